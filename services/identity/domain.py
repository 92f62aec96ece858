"""The identity as Kratos models it: plain dataclasses, no storage and no HTTP here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.aal import backup_codes


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


# The identities table's `external_id` column is a String of this length (tables.py); PostgreSQL
# refuses a longer value and SQLite stores it, so every way in checks it first.
MAX_EXTERNAL_ID_LENGTH = 255
# The identifiers and address values columns are Strings of this length: PostgreSQL refuses a longer
# value (a 500, and a batch import's whole transaction lost), SQLite stores it.
MAX_IDENTIFIER_LENGTH = 512


class State(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class CredentialType(StrEnum):
    PASSWORD = "password"
    OIDC = "oidc"
    TOTP = "totp"
    LOOKUP_SECRET = "lookup_secret"
    WEBAUTHN = "webauthn"
    CODE = "code"
    PASSKEY = "passkey"
    PROFILE = "profile"
    SAML = "saml"


# Config fields that are secrets: never in a response, an event or a log line.
SECRET_CONFIG_FIELDS: dict[str, frozenset[str]] = {
    CredentialType.PASSWORD: frozenset({"hashed_password", "password"}),
    CredentialType.TOTP: frozenset({"totp_url"}),
    # `codes`: a set imported as Kratos's import body names it (in clear, as older Warden stored it);
    # `salt`, `kdf`, `key_id`: how the codes are sealed (shared.backup_codes), of no use to a client,
    # and Kratos's config has none of them.
    CredentialType.LOOKUP_SECRET: frozenset({"recovery_codes", "codes", "salt", "kdf", "key_id"}),
    CredentialType.OIDC: frozenset({"initial_id_token", "initial_access_token", "initial_refresh_token"}),
    CredentialType.SAML: frozenset({"initial_id_token", "initial_access_token", "initial_refresh_token"}),
}


@dataclass(frozen=True)
class Credential:
    type: str
    identifiers: tuple[str, ...]
    config: dict[str, Any]
    version: int = 0
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)

    def public_config(self) -> dict[str, Any]:
        hidden = SECRET_CONFIG_FIELDS.get(self.type, frozenset())
        config = {k: v for k, v in self.config.items() if k not in hidden}
        if isinstance(config.get("providers"), list):  # social sign-in keeps its tokens per provider
            config["providers"] = [
                {k: v for k, v in p.items() if k not in hidden} for p in config["providers"] if isinstance(p, dict)
            ]
        if self.type == CredentialType.LOOKUP_SECRET:
            config["recovery_codes"] = self._spent_codes()
        return config

    def _spent_codes(self) -> list[dict[str, Any]]:
        """Backup codes without the code (or its hash): when each was used, if it was. Kratos counts
        the credential as a second factor only while one is unused (shared/aal.py reads this)."""
        return [{"used_at": e.get("used_at") or None} for e in backup_codes(self.config) if isinstance(e, dict)]


@dataclass(frozen=True)
class VerifiableAddress:
    value: str
    via: str
    verified: bool = False
    status: str = "pending"
    verified_at: datetime | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)


@dataclass(frozen=True)
class RecoveryAddress:
    value: str
    via: str
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)


# Any JSON value, kept as the admin API was given it (Kratos stores metadata as is).
Metadata = Any


@dataclass(frozen=True)
class Identity:
    schema_id: str
    traits: dict[str, Any]
    state: State = State.ACTIVE
    metadata_public: Metadata = None
    metadata_admin: Metadata = None
    external_id: str | None = None
    organization_id: str | None = None
    credentials: dict[str, Credential] = field(default_factory=dict)
    verifiable_addresses: tuple[VerifiableAddress, ...] = ()
    recovery_addresses: tuple[RecoveryAddress, ...] = ()
    id: str = field(default_factory=new_id)
    state_changed_at: datetime | None = None
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)

    def with_changes(self, **changes: Any) -> Identity:
        return replace(self, updated_at=now(), **changes)
