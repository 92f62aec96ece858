"""Backup recovery codes (Kratos's lookup secrets) at rest: stored only as keyed hashes, each entry
`{"hash": …, "used_at": …}`. The identity service seals codes an import gives in Kratos's clear
form (`{"code": …}`) before it stores them; self-service makes, checks and spends them. Entries
still in clear (stored before imports were sealed, or with no secret to key them) are accepted,
compared in constant time.

The hash is an HMAC keyed with the server's secret (the first of `secrets.default`, or of
`secrets.cookie`) and salted per credential, so a database dump alone does not let anyone grind
through the 36^8 possible codes. New codes are keyed with the first secret; a code is checked
against every configured one, as Kratos verifies with its whole list: a rotated secret (a new one
put first, the old kept) leaves the codes made before it working."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import Any

from shared.aal import backup_codes


def peppers_from(settings: Any, first: str | None = None) -> list[str]:
    """The secrets that key backup codes: `first` (self-service's pepper) ahead of the list it is
    the first of (`secrets.default`, or `secrets.cookie` without it)."""
    listed = [str(s) for s in settings.secrets.default or settings.secrets.cookie or []]
    head = first if first is not None else (listed[0] if listed else None)
    return [head, *(s for s in listed if s != head)] if head else []


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

    def sealed(self, config: dict[str, Any]) -> dict[str, Any]:
        """The config with every code given in clear (Kratos's import form, `{"code": …}`) replaced by
        its hash, under `recovery_codes`; one whose codes are all hashed already is returned as is.
        A code is hashed as a login compares it (trimmed, lowercased). Entries stay where they are
        (a spent code is found by its position), an unusable one as it was: imports refuse those."""
        entries = backup_codes(config)
        if "codes" not in config and all(isinstance(e, dict) and "hash" in e and "code" not in e for e in entries):
            return config
        salt = str(config.get("salt") or secrets.token_hex(16))
        kept: list[Any] = []
        for entry in entries:
            code = entry.get("code") if isinstance(entry, dict) else None
            if isinstance(entry, dict) and "hash" in entry:
                entry = {k: v for k, v in entry.items() if k != "code"}
            elif isinstance(code, str) and code.strip():
                entry = {"hash": self.digest(salt, code.strip().lower()), "used_at": entry.get("used_at")}
            kept.append(entry)
        rest = {k: v for k, v in config.items() if k not in ("codes", "recovery_codes", "salt")}
        return {**rest, "salt": salt, "recovery_codes": kept}

    def spent(self, config: dict[str, Any], index: int) -> dict[str, Any]:
        """The sealed config with entry `index` (a code `find` matched) marked used now."""
        sealed = self.sealed(config)
        kept = [dict(e) if isinstance(e, dict) else e for e in backup_codes(sealed)]
        kept[index]["used_at"] = now_text()
        return {**sealed, "recovery_codes": kept}

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


def now_text() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
