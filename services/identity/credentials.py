"""Credentials given to the admin API (create, update, batch): turned into stored credentials.

A clear-text password is hashed with the configured hasher (no password policy: Kratos imports as
given); a `hashed_password` is checked against the formats Warden can verify and stored as is, to be
re-hashed with the configured hasher at the next successful login; `use_password_migration_hook`
stores no secret at all: the password migration hook vouches for the first one given at login
(services/identity/password_migration.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from services.identity.domain import Credential, CredentialType, now
from services.identity.errors import MalformedBody, UnknownHashFormat
from shared import passkey_handles
from shared.aal import backup_codes
from shared.backup_codes import CodeHasher
from shared.cipher import Cipher, DecryptionFailed
from shared.kdf import KEY_BYTES, parse_prefix, unb64
from shared.totp import UnusableTotpUrl, parse_totp

PASSWORD_VERSION = 1  # Kratos's current password credential version
# Backup codes in one set: self-service makes 12, as Kratos does. Each code given is one argon2 run
# on the threads that check passwords, so a set of thousands stalled every login for minutes.
MAX_CODES_PER_SET = 100


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...
    async def verify(self, password: str, encoded: str) -> bool: ...


class ImportedHashValidator(Protocol):
    def __call__(self, encoded: str) -> None: ...


@dataclass(frozen=True)
class Sealing:
    """What turns given secrets into stored ones: the password hasher and the check of imported
    hashes, the cipher for TOTP secrets, and the sealing of backup codes (None without a secret)."""

    hasher: PasswordHasher
    validate_hash: ImportedHashValidator
    cipher: Cipher
    backup_codes: CodeHasher | None


async def import_credentials(
    raw: dict[str, Any] | None, existing: dict[str, Credential], sealing: Sealing
) -> dict[str, Credential]:
    credentials = dict(existing)
    for kind, body in (raw or {}).items():
        if body is None:
            continue
        config = (body or {}).get("config") or {}
        if not isinstance(config, dict):
            raise MalformedBody(f"credentials.{kind}.config must be an object")
        if kind == CredentialType.PASSWORD:
            credentials[kind] = await _password(config, existing.get(kind), sealing.hasher, sealing.validate_hash)
        elif kind in (CredentialType.OIDC, CredentialType.SAML):
            credentials[kind] = _federated(kind, config, existing.get(kind))
        elif kind == CredentialType.TOTP:
            credentials[kind] = _replaced(kind, _sealed_totp(config, sealing.cipher), existing.get(kind))
        elif kind == CredentialType.LOOKUP_SECRET:
            credentials[kind] = _replaced(kind, await _sealed_codes(config, sealing), existing.get(kind))
        elif kind in (CredentialType.WEBAUTHN, CredentialType.PASSKEY):
            credentials[kind] = _replaced(kind, config, existing.get(kind))
            if kind == CredentialType.PASSKEY and isinstance(config.get("user_handle"), str):
                # A passkey is found by its user handle: the identifier an imported one comes with,
                # the handle's bytes as text, as Kratos keeps it (shared/passkey_handles.py).
                if not passkey_handles.decode(config["user_handle"]):  # "!!!" would decode to nothing
                    raise MalformedBody("credentials.passkey.config.user_handle must be the handle in base64")
                found_by = passkey_handles.identifier_of(config["user_handle"])
                credentials[kind] = replace(credentials[kind], identifiers=(found_by,))
        else:
            raise MalformedBody(f"credentials of type {kind!r} cannot be imported")
    return credentials


async def _password(
    config: dict[str, Any], current: Credential | None, hasher: PasswordHasher, validate_hash: ImportedHashValidator
) -> Credential:
    if config.get("use_password_migration_hook"):  # as in Kratos, it wins over a password beside it
        stored: dict[str, Any] = {"use_password_migration_hook": True}
    elif config.get("hashed_password"):
        encoded = str(config["hashed_password"])
        try:
            validate_hash(encoded)
        except ValueError as exc:
            raise UnknownHashFormat() from exc
        stored = {"hashed_password": encoded}
    elif config.get("password"):
        stored = {"hashed_password": await hasher.hash(str(config["password"]))}
    else:
        raise MalformedBody(
            "credentials.password.config needs password, hashed_password or use_password_migration_hook"
        )
    return _replaced(CredentialType.PASSWORD, stored, current, version=PASSWORD_VERSION)


def clear_codes(raw: dict[str, Any] | None) -> int:
    """How many backup codes `raw` (credentials as given) holds in clear: each costs a KDF run."""
    body = (raw or {}).get(CredentialType.LOOKUP_SECRET)
    config = body.get("config") if isinstance(body, dict) else None
    if not isinstance(config, dict):
        return 0
    return sum(1 for entry in backup_codes(config) if isinstance(entry, dict) and "code" in entry)


def awaits_migration(credential: Credential | None) -> bool:
    """Kratos's `ShouldUsePasswordMigrationHook`: a password credential flagged for the password
    migration hook (services/identity/password_migration.py), with no hash of its own yet."""
    config = credential.config if credential is not None else {}
    return bool(config.get("use_password_migration_hook")) and not config.get("hashed_password")


def _federated(kind: str, config: dict[str, Any], current: Credential | None) -> Credential:
    providers = list((current.config.get("providers") if current else None) or [])
    for provider in config.get("providers") or []:
        if not isinstance(provider, dict) or not provider.get("provider") or not provider.get("subject"):
            raise MalformedBody(f"credentials.{kind}.config.providers[] need provider and subject")
        providers = [
            p for p in providers if (p["provider"], p["subject"]) != (provider["provider"], provider["subject"])
        ]
        providers.append({k: v for k, v in provider.items() if v is not None})
    identifiers = tuple(f"{p['provider']}:{p['subject']}" for p in providers)
    credential = _replaced(kind, {**config, "providers": providers}, current)
    return replace(credential, identifiers=identifiers)


def _sealed_totp(config: dict[str, Any], cipher: Cipher) -> dict[str, Any]:
    """An imported `totp_url` in clear is checked (`shared.totp`) and encrypted with `secrets.cipher`
    (when set) before it is stored; one self-service already sealed is kept as it is, once it opens."""
    url = config.get("totp_url")
    if not isinstance(url, str):  # a TOTP credential without a URL would be a second factor none can pass
        raise MalformedBody(f"credentials.totp.config.totp_url {UnusableTotpUrl()}")
    try:
        parse_totp(url if url.startswith("otpauth://") else cipher.decrypt(url))
    except (UnusableTotpUrl, DecryptionFailed) as exc:
        raise MalformedBody(f"credentials.totp.config.totp_url {UnusableTotpUrl()}") from exc
    if url.startswith("otpauth://"):
        return {**config, "totp_url": cipher.encrypt(url)}
    return config


async def sealed_codes_in(raw: dict[str, Any] | None, sealing: Sealing) -> dict[str, Any] | None:
    """`raw` (credentials as given) with its backup codes sealed already. Sealing runs the KDF once
    for every code: a caller about to open a transaction seals first, so the transaction is not held
    for it (`import_credentials` then finds the codes sealed and has nothing to derive)."""
    body = (raw or {}).get(CredentialType.LOOKUP_SECRET)
    config = body.get("config") if isinstance(body, dict) else None
    if raw is None or not isinstance(body, dict) or not isinstance(config, dict):
        return raw
    return {**raw, CredentialType.LOOKUP_SECRET: {**body, "config": await _sealed_codes(config, sealing)}}


async def _sealed_codes(config: dict[str, Any], sealing: Sealing) -> dict[str, Any]:
    """Kratos's import keeps backup codes in clear; Warden stores them only under its KDF
    (shared.backup_codes), or as given when it has no secret to key them with. A set of plain keyed
    hashes is stored as given: a self-service of before the KDF, during a rolling upgrade, writes
    those and must still be able to check them (they are sealed when a self-service that knows the
    KDF reads them: `IdentityManager.get_credential`)."""
    _require_codes(config)
    _require_one_form(config)
    if sealing.backup_codes is None or not sealing.backup_codes.has_clear_codes(config):
        return config
    return await sealing.backup_codes.sealed(config)


def _require_one_form(config: dict[str, Any]) -> None:
    """A set is in one form that some check can read: a sealed set (`kdf`: parameters this server
    will run, every stored entry a derived key), keyed hashes, or codes in clear, alone or beside
    entries of the first two. Anything else would be stored and then fail every check (or cost a
    check more than the bounds allow)."""
    if "codes" in config and "recovery_codes" in config:
        raise MalformedBody("credentials.lookup_secret.config: give codes or recovery_codes, not both")
    if "kdf" not in config:
        return
    try:
        parse_prefix(str(config["kdf"]) if isinstance(config["kdf"], str) else "")
        keys = [unb64(str(e["hash"])) for e in backup_codes(config) if isinstance(e, dict) and "hash" in e]
    except ValueError as exc:
        raise MalformedBody(f"credentials.lookup_secret.config.kdf: {exc}") from exc
    if any(len(key) != KEY_BYTES for key in keys):
        raise MalformedBody("credentials.lookup_secret.config: a sealed set holds derived keys only")


def _require_codes(config: dict[str, Any]) -> None:
    """Every backup code an import gives is one a user could type, or one self-service hashed: an
    empty or missing one would count as unused and never work. At most `MAX_CODES_PER_SET`."""
    entries = backup_codes(config)
    if len(entries) > MAX_CODES_PER_SET:
        raise MalformedBody(
            f"credentials.lookup_secret.config: a set holds at most {MAX_CODES_PER_SET} codes, not {len(entries)}"
        )
    for index, entry in enumerate(entries):
        usable = isinstance(entry, dict) and any(
            isinstance(entry.get(key), str) and entry[key].strip() for key in ("code", "hash")
        )
        if not usable:
            field = "recovery_codes" if config.get("recovery_codes") else "codes"  # as backup_codes reads them
            raise MalformedBody(f"credentials.lookup_secret.config.{field}.{index} needs a code")


def _replaced(kind: str, config: dict[str, Any], current: Credential | None, version: int = 0) -> Credential:
    if current is None:
        return Credential(type=kind, identifiers=(), config=config, version=version)
    return replace(current, config=config, version=version, updated_at=now())


# Types whose identifiers are derived (from the traits through the schema, or from the OIDC/SAML
# providers in the config); the others (passkey user handles, …) are stored as the method gives them.
DERIVED_IDENTIFIERS = frozenset(
    {CredentialType.PASSWORD, CredentialType.WEBAUTHN, CredentialType.CODE, CredentialType.OIDC, CredentialType.SAML}
)


def with_identifiers(credential: Credential, identifiers: Sequence[str]) -> Credential:
    if credential.type in DERIVED_IDENTIFIERS:
        raise MalformedBody(f"the identifiers of a {credential.type} credential are derived, not given")
    return replace(credential, identifiers=tuple(dict.fromkeys(identifiers)))
