"""The identity service's tables (SQLAlchemy Core). The migrations create exactly these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, MetaData, String, Table, Text, UniqueConstraint

from services.identity.domain import MAX_EXTERNAL_ID_LENGTH, MAX_IDENTIFIER_LENGTH


@dataclass(frozen=True)
class IdentityTables:
    identities: Table
    credentials: Table
    identifiers: Table
    verifiable_addresses: Table
    recovery_addresses: Table


def identity_tables(metadata: MetaData) -> IdentityTables:
    def identity_fk() -> Column[Any]:
        return Column(
            "identity_id",
            String(36),
            ForeignKey("identity_identities.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )

    def timestamps() -> list[Column[Any]]:
        return [
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
        ]

    identities = Table(
        "identity_identities",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("schema_id", String(255), nullable=False),
        Column("state", String(16), nullable=False),
        Column("state_changed_at", DateTime(timezone=True), nullable=True),
        Column("traits", Text, nullable=False),
        Column("metadata_public", Text, nullable=True),
        Column("metadata_admin", Text, nullable=True),
        Column("external_id", String(MAX_EXTERNAL_ID_LENGTH), nullable=True, unique=True),
        Column("organization_id", String(36), nullable=True),
        *timestamps(),
    )
    credentials = Table(
        "identity_credentials",
        metadata,
        Column("id", String(36), primary_key=True),
        identity_fk(),
        Column("type", String(32), nullable=False),
        Column("config", Text, nullable=False),
        Column("version", Integer, nullable=False),
        *timestamps(),
        UniqueConstraint("identity_id", "type", name="uq_identity_credentials_identity_type"),
    )
    identifiers = Table(
        "identity_credential_identifiers",
        metadata,
        Column("id", String(36), primary_key=True),
        identity_fk(),
        Column("credential_id", String(36), ForeignKey("identity_credentials.id", ondelete="CASCADE"), nullable=False),
        Column("type", String(32), nullable=False),
        Column("identifier", String(MAX_IDENTIFIER_LENGTH), nullable=False),
        UniqueConstraint("type", "identifier", name="uq_identity_identifiers_type_identifier"),
    )
    verifiable = Table(
        "identity_verifiable_addresses",
        metadata,
        Column("id", String(36), primary_key=True),
        identity_fk(),
        Column("via", String(16), nullable=False),
        Column("value", String(MAX_IDENTIFIER_LENGTH), nullable=False),
        Column("verified", Boolean, nullable=False),
        Column("status", String(16), nullable=False),
        Column("verified_at", DateTime(timezone=True), nullable=True),
        *timestamps(),
        UniqueConstraint("via", "value", name="uq_identity_verifiable_via_value"),
    )
    recovery = Table(
        "identity_recovery_addresses",
        metadata,
        Column("id", String(36), primary_key=True),
        identity_fk(),
        Column("via", String(16), nullable=False),
        Column("value", String(MAX_IDENTIFIER_LENGTH), nullable=False),
        *timestamps(),
        UniqueConstraint("via", "value", name="uq_identity_recovery_via_value"),
    )
    return IdentityTables(identities, credentials, identifiers, verifiable, recovery)
