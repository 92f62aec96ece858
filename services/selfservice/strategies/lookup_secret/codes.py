"""Backup recovery codes (Kratos's lookup secrets): 12 codes of 8 characters `[a-z0-9]`, stored only
as keyed hashes. Each stored entry is `{"hash": …, "used_at": …}`; entries imported in Kratos's
clear form (`{"code": …}`) are still accepted, compared in constant time.

The hash is an HMAC keyed with the server's secret and salted per credential, so a database dump
alone does not let anyone grind through the 36^8 possible codes. New codes are keyed with the first
secret; a code is checked against every configured one, as Kratos verifies with its whole list: a
rotated secret (a new one put first, the old kept) leaves the codes made before it working."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from datetime import UTC, datetime
from typing import Any

from shared.aal import backup_codes

CODE_COUNT = 12
CODE_LENGTH = 8
ALPHABET = string.ascii_lowercase + string.digits


def new_codes() -> list[str]:
    return ["".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH)) for _ in range(CODE_COUNT)]


class CodeHasher:
    def __init__(self, peppers: list[str]) -> None:
        if not peppers:
            raise ValueError("backup codes need a secret to key their hashes with")
        self._peppers = [p.encode() for p in peppers]

    def digest(self, salt: str, code: str, pepper: bytes | None = None) -> str:
        return hmac.new(pepper or self._peppers[0], f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()

    def config_for(self, codes: list[str]) -> dict[str, Any]:
        """The credential config for freshly generated codes (none used)."""
        salt = secrets.token_hex(16)
        return {"salt": salt, "recovery_codes": [{"hash": self.digest(salt, c), "used_at": None} for c in codes]}

    def spent(self, config: dict[str, Any], index: int) -> dict[str, Any]:
        """The config with entry `index` marked used now; codes imported in clear are hashed on the
        way (Kratos's import keeps them in clear; the identity service has no key to hash them)."""
        salt = str(config.get("salt") or secrets.token_hex(16))
        kept = []
        for entry in backup_codes(config):
            entry = dict(entry) if isinstance(entry, dict) else {}
            if "hash" not in entry:
                entry = {"hash": self.digest(salt, str(entry.get("code") or "")), "used_at": entry.get("used_at")}
            kept.append(entry)
        kept[index]["used_at"] = _now()
        rest = {k: v for k, v in config.items() if k not in ("codes", "recovery_codes", "salt")}
        return {**rest, "salt": salt, "recovery_codes": kept}

    def find(self, config: dict[str, Any], code: str) -> int | None:
        """The index of the entry `code` matches, used or not; every entry is compared, under every
        secret, so the time taken says nothing about which one matched."""
        salt = str(config.get("salt") or "")
        digests = [self.digest(salt, code, pepper) for pepper in self._peppers]
        found = None
        for index, entry in enumerate(backup_codes(config)):
            if not isinstance(entry, dict):
                continue
            if "hash" in entry:
                stored, candidates = str(entry["hash"]), digests
            else:  # imported in clear
                stored, candidates = str(entry.get("code") or ""), [code]
            for given in candidates:
                if hmac.compare_digest(stored.encode(), given.encode()) and found is None:
                    found = index
        return found


def unused_count(config: dict[str, Any]) -> int:
    return sum(1 for e in backup_codes(config) if isinstance(e, dict) and not e.get("used_at"))


def used_at(entry: dict[str, Any]) -> datetime | None:
    value = entry.get("used_at")
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) and value else None


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
