"""The self-service tables (SQLAlchemy Core). The migrations create exactly these."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, Text


@dataclass(frozen=True)
class SelfserviceTables:
    flows: Table
    errors: Table
    codes: Table
    totp_steps: Table


def selfservice_tables(metadata: MetaData) -> SelfserviceTables:
    flows = Table(
        "selfservice_flows",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("kind", String(32), nullable=False),
        Column("body", Text, nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )
    errors = Table(
        "selfservice_errors",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("error", Text, nullable=False),
        Column("csrf_token", String(128), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, index=True),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )
    codes = Table(
        "selfservice_codes",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("flow_id", String(36), nullable=False, index=True),
        Column("kind", String(32), nullable=False),
        Column("method", String(16), nullable=False),
        Column("secret_hash", String(64), nullable=False, index=True),
        Column("address", String(512), nullable=False),
        Column("via", String(16), nullable=False),
        Column("identity_id", String(36), nullable=True),
        Column("attempts", Integer, nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
        Column("used_at", DateTime(timezone=True), nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    totp_steps = Table(
        "selfservice_totp_steps",
        metadata,
        Column("identity_id", String(36), primary_key=True),
        Column("step", BigInteger, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )
    return SelfserviceTables(flows, errors, codes, totp_steps)
