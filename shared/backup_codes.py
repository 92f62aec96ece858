"""Backup recovery codes (Kratos's lookup secrets) at rest: each code stored only through a slow,
salted password KDF over a keyed hash (checklist OTP-7; NIST SP 800-63B §3.1.2.1 asks that a
look-up secret of under 112 bits be stored salted and hashed with a one-way KDF: these have 41).

A set of codes (one credential) is stored as
    {"salt": <hex>, "kdf": "$argon2id$v=19$m=<KiB>,t=<t>,p=<p>$<salt>", "key_id": <hex>,
     "recovery_codes": [{"hash": <base64 key>, "used_at": <time or null>}, …]}
and each code's key is argon2id(HMAC-SHA256(pepper, "<salt>:<code>"), <kdf salt>):
- The HMAC keys the hash with the server's secret (the first of `secrets.default`, or of
  `secrets.cookie`: the pepper), so a database dump alone gives nothing to grind; argon2id makes
  each guess cost what a password guess costs, for whoever holds both the dump and the secret.
- One KDF salt and one parameter set per set, not per code: a login derives once and compares the
  result, in constant time, with every entry. Per-code salts would cost one derivation per stored
  code at every check; a guess against one set still has to be derived for that set alone.
- The parameters are written with the set (`kdf`, a PHC string without its key), so a change of
  `hashers.argon2.*` leaves stored codes working; new sets take the configured ones.
- `key_id` names the secret that keyed the set, so a check derives once even while older secrets
  are kept for rotation (a code is checked against every configured secret, as Kratos verifies
  with its whole list). A set without it (one wrapped from old keyed hashes, whose secret no one
  recorded) is derived once per configured secret.

Older sets keep working and are sealed under the KDF without their codes (`sealed`): entries kept as
the plain HMAC (`{"hash": <hex>}`, before this KDF) have the KDF run over the stored HMAC, which is
exactly its input; entries in clear (`{"code": …}`, Kratos's import form) are hashed as a login
compares them. The identity service seals whatever it stores, and an older set when it hands it to
the service that checks it (`IdentityManager.get_credential`); checks (self-service) only read.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import UTC, datetime
from typing import Any, Protocol

from shared.aal import backup_codes
from shared.kdf import SALT_BYTES, Argon2idParams, b64, parse_prefix


class Kdf(Protocol):
    async def derive(self, secrets: list[bytes], salt: bytes, params: Argon2idParams) -> list[bytes]: ...


def peppers_from(settings: Any, first: str | None = None) -> list[str]:
    """The secrets that key backup codes: `first` (self-service's pepper) ahead of the list it is
    the first of (`secrets.default`, or `secrets.cookie` without it)."""
    listed = [str(s) for s in settings.secrets.default or settings.secrets.cookie or []]
    head = first if first is not None else (listed[0] if listed else None)
    return [head, *(s for s in listed if s != head)] if head else []


class CodeHasher:
    """`params`: what new sets are sealed with (the identity service's); None where sets are only
    checked (self-service), which reads the parameters of each set from the set."""

    def __init__(self, peppers: list[str], kdf: Kdf, params: Argon2idParams | None = None) -> None:
        if not peppers:
            raise ValueError("backup codes need a secret to key their hashes with")
        self._peppers = [p.encode() for p in peppers]
        self._kdf = kdf
        self._params = params

    def digest(self, salt: str, code: str, pepper: bytes | None = None) -> str:
        return hmac.new(pepper or self._peppers[0], f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def needs_sealing(config: dict[str, Any]) -> bool:
        """Whether any code of the set is kept other than under the KDF (plain HMAC, or in clear)."""
        return CodeHasher.has_clear_codes(config) or CodeHasher.has_plain_hmacs(config)

    @staticmethod
    def has_clear_codes(config: dict[str, Any]) -> bool:
        """Codes in Kratos's import form, which only this Warden's self-service (confirming a new set)
        or an import sends: whoever checks the set afterwards knows the KDF."""
        return "codes" in config or any(isinstance(e, dict) and "code" in e for e in backup_codes(config))

    @staticmethod
    def has_plain_hmacs(config: dict[str, Any]) -> bool:
        """A set kept as keyed hashes only, as Warden kept every set before the KDF (and as a
        self-service of before still writes them: see `IdentityManager.get_credential`)."""
        return "kdf" not in config and any(isinstance(e, dict) and "hash" in e for e in backup_codes(config))

    async def sealed(self, config: dict[str, Any]) -> dict[str, Any]:
        """The set with every code under the KDF, under `recovery_codes`; one that is already is
        returned as is. Codes in clear are hashed as a login compares them (trimmed, lowercased);
        plain HMACs are wrapped as they are. Entries stay where they are (a spent code is found by
        its position), an unusable one as it was: imports refuse those. ValueError when the set
        names parameters this server will not run."""
        if not self.needs_sealing(config):
            return config
        if self._params is None:
            raise RuntimeError("this CodeHasher only checks backup codes; the identity service seals them")
        # Stored keyed hashes were made with the stored salt, even an empty or missing one (as `find`
        # reads it): wrapping them keeps it. Only a set given all in clear gets a fresh one.
        keeps_salt = "kdf" in config or any(isinstance(e, dict) and "hash" in e for e in backup_codes(config))
        salt = str(config.get("salt") or "") if keeps_salt else str(config.get("salt") or secrets.token_hex(16))
        if "kdf" in config:  # sealed already, with codes in clear beside (an import): same salt, same key
            params, kdf_salt = parse_prefix(str(config["kdf"]))
            pepper = self._pepper_named(config.get("key_id")) or self._peppers[0]
        else:
            params, kdf_salt, pepper = self._params, os.urandom(SALT_BYTES), self._peppers[0]
        under_kdf = "kdf" in config
        entries = backup_codes(config)
        inputs = {i: given for i, e in enumerate(entries) if (given := self._kdf_input(e, salt, pepper, under_kdf))}
        keys = dict(zip(inputs, await self._kdf.derive(list(inputs.values()), kdf_salt, params), strict=True))
        kept = [
            {"hash": b64(keys[i]), "used_at": e.get("used_at")} if i in keys else _without_code(e)
            for i, e in enumerate(entries)
        ]
        # A wrapped HMAC was keyed with whichever secret was first then, which nothing recorded.
        wrapped = not under_kdf and any(isinstance(e, dict) and "hash" in e for e in entries)
        key_id = config.get("key_id") if under_kdf else (None if wrapped else _key_id(pepper))
        rest = {k: v for k, v in config.items() if k not in ("codes", "recovery_codes", "salt", "kdf", "key_id")}
        named = {"key_id": key_id} if key_id else {}
        return {**rest, "salt": salt, "kdf": params.prefix(kdf_salt), **named, "recovery_codes": kept}

    def _kdf_input(self, entry: Any, salt: str, pepper: bytes, under_kdf: bool) -> bytes | None:
        """What the KDF runs over for an entry not under it yet: a plain HMAC as stored (a code given
        beside its hash is dropped, as before), or the HMAC of a code in clear; None for an entry
        under the KDF already, or an unusable one."""
        if not isinstance(entry, dict):
            return None
        if "hash" in entry:
            return None if under_kdf else str(entry["hash"]).encode()
        code = entry.get("code")
        if isinstance(code, str) and code.strip():
            return self.digest(salt, code.strip().lower(), pepper).encode()
        return None

    async def find(self, config: dict[str, Any], code: str) -> int | None:
        """The index of the entry `code` matches, used or not. Under the KDF: one derivation (one per
        configured secret for a set whose secret is not named), compared with every entry; plain
        HMACs and codes in clear (sets not sealed yet) are all compared too, so the time taken says
        nothing about which entry matched. ValueError when the set names parameters out of bounds."""
        salt = str(config.get("salt") or "")
        digests = [self.digest(salt, code, pepper) for pepper in self._peppers]
        derived: list[str] = []
        if "kdf" in config:
            params, kdf_salt = parse_prefix(str(config["kdf"]))
            named = self._pepper_named(config.get("key_id"))
            keyed = [self.digest(salt, code, named)] if named else digests
            derived = [b64(k) for k in await self._kdf.derive([d.encode() for d in keyed], kdf_salt, params)]
        found = None
        for index, entry in enumerate(backup_codes(config)):
            if not isinstance(entry, dict):
                continue
            if "hash" in entry:
                stored, candidates = str(entry["hash"]), derived if "kdf" in config else digests
            else:  # in clear: imported before imports were sealed, or with no secret to key them
                stored, candidates = str(entry.get("code") or ""), [code]
            for given in candidates:
                if hmac.compare_digest(stored.encode(), given.encode()) and found is None:
                    found = index
        return found

    def spent(self, config: dict[str, Any], index: int) -> dict[str, Any]:
        """The set with entry `index` (a code `find` matched) marked used now, under
        `recovery_codes`: no derivation, the set is kept as it was stored."""
        kept = [dict(e) if isinstance(e, dict) else e for e in backup_codes(config)]
        kept[index]["used_at"] = now_text()
        return {**{k: v for k, v in config.items() if k != "codes"}, "recovery_codes": kept}

    def _pepper_named(self, key_id: Any) -> bytes | None:
        return next((p for p in self._peppers if key_id and hmac.compare_digest(_key_id(p), str(key_id))), None)


def _without_code(entry: Any) -> Any:
    """An entry sealing does not derive: one under the KDF already, or an unusable one, kept where it
    is, but never with a code in clear beside it."""
    return {k: v for k, v in entry.items() if k != "code"} if isinstance(entry, dict) else entry


def _key_id(pepper: bytes) -> str:
    """Names a secret without giving it away: the secrets are long and random, and this is an HMAC
    under the secret itself, cut short."""
    return hmac.new(pepper, b"warden backup codes: key id", hashlib.sha256).hexdigest()[:16]


def now_text() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
