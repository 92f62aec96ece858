"""The session service's tables (SQLAlchemy Core). The migrations create exactly these."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Boolean, Column, DateTime, ForeignKey, Integer, MetaData, String, Table, Text


@dataclass(frozen=True)
class SessionTables:
    sessions: Table
    devices: Table
    cache_generation: Table
    cache_drops: Table


def session_tables(metadata: MetaData) -> SessionTables:
    sessions = Table(
        "session_sessions",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("token_hash", String(64), nullable=False, unique=True),
        Column("identity_id", String(36), nullable=False, index=True),
        Column("active", Boolean, nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
        Column("authenticated_at", DateTime(timezone=True), nullable=False),
        Column("issued_at", DateTime(timezone=True), nullable=False),
        Column("authentication_methods", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        # The last use, kept only with `session.inactivity_timeout`; NULL: none since authenticated_at.
        Column("active_at", DateTime(timezone=True), nullable=True),
    )
    devices = Table(
        "session_devices",
        metadata,
        Column("id", String(36), primary_key=True),
        Column(
            "session_id", String(36), ForeignKey("session_sessions.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        Column("ip_address", String(64), nullable=True),
        Column("user_agent", String(512), nullable=True),
        Column("location", String(255), nullable=True),
    )
    cache_generation = Table(
        "session_cache_generation",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("generation", BigInteger, nullable=False),
    )
    # What a process's own (in-memory) cache dropped, for the other processes' caches (cache_drops.py).
    cache_drops = Table(
        "session_cache_drops",
        metadata,
        Column("position", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("token_hash", String(64), nullable=False),
        Column("dropped_at", DateTime(timezone=True), nullable=False, index=True),
    )
    return SessionTables(sessions, devices, cache_generation, cache_drops)
