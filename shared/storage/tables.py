"""The tables every service has: its outbox and the events it has already processed.

Each service prefixes its tables with its name, so that services sharing one database (the
all-in-one process, or a small deployment with a single DSN) never collide.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, Text


def outbox_table(metadata: MetaData, service: str) -> Table:
    return Table(
        f"{service}_outbox",
        metadata,
        Column("position", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("id", String(36), nullable=False, unique=True),
        Column("type", String(255), nullable=False),
        Column("source", String(64), nullable=False),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("data", Text, nullable=False),
        # Set only by the relay of versions that kept what they published (the relay now deletes it);
        # rows a replica of such a version marks during a rolling upgrade are not published twice.
        Column("published_at", DateTime(timezone=True), nullable=True),
        Column("trace_context", Text, nullable=True),  # shared.tracing.carrier
    )


def processed_events_table(metadata: MetaData, service: str) -> Table:
    return Table(
        f"{service}_processed_events",
        metadata,
        Column("event_id", String(36), primary_key=True),
        Column("queue", String(255), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )
