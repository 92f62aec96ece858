"""Backup recovery codes (Kratos's lookup secrets): 12 codes of 8 characters `[a-z0-9]`, made here;
how they are kept at rest (a slow KDF over a keyed hash) is `shared.backup_codes`'s."""

from __future__ import annotations

import secrets
import string
from datetime import datetime
from typing import Any

from shared.aal import backup_codes

CODE_COUNT = 12
CODE_LENGTH = 8
ALPHABET = string.ascii_lowercase + string.digits


def new_codes() -> list[str]:
    return ["".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH)) for _ in range(CODE_COUNT)]


def unused_count(config: dict[str, Any]) -> int:
    return sum(1 for e in backup_codes(config) if isinstance(e, dict) and not e.get("used_at"))


def used_at(entry: dict[str, Any]) -> datetime | None:
    value = entry.get("used_at")
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) and value else None
