"""A hash family: how to recognise its encoded form, parse it (bounds included) and check a password."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import InvalidImportedHash


@dataclass(frozen=True)
class HashFamily:
    name: str
    prefix: re.Pattern[str]
    parse: Callable[[str], Any]  # raises InvalidImportedHash
    verify: Callable[[bytes, Any], bool]  # the password's UTF-8 bytes and what `parse` returned

    def recognises(self, encoded: str) -> bool:
        return self.prefix.match(encoded) is not None


def match_or_reject(pattern: re.Pattern[str], encoded: str, family: str) -> re.Match[str]:
    found = pattern.fullmatch(encoded)
    if found is None:
        raise InvalidImportedHash(f"malformed {family} hash")
    return found
