"""Operations that several services' migrations share.

Migrations are history: once a revision has shipped, the function it calls must not change.
Add a new function for a new shape instead of editing one of these.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def create_outbox_v1(service: str) -> None:
    op.create_table(
        f"{service}_outbox",
        sa.Column("position", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(f"ix_{service}_outbox_published_at", f"{service}_outbox", ["published_at"])
    op.create_table(
        f"{service}_processed_events",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("queue", sa.String(255), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )


def drop_outbox_v1(service: str) -> None:
    op.drop_table(f"{service}_processed_events")
    op.drop_index(f"ix_{service}_outbox_published_at", f"{service}_outbox")
    op.drop_table(f"{service}_outbox")


def add_outbox_trace_context(service: str) -> None:
    """The W3C trace context of the request that wrote the event (shared.tracing.carrier); NULL
    when no trace was active."""
    op.add_column(f"{service}_outbox", sa.Column("trace_context", sa.Text, nullable=True))


def drop_outbox_trace_context(service: str) -> None:
    with op.batch_alter_table(f"{service}_outbox") as batch:  # SQLite drops columns by copying
        batch.drop_column("trace_context")


def relay_deletes_outbox_rows(service: str) -> None:
    """The relay deletes the rows it published (it marked them with `published_at` before, and they
    stayed for good): what it marked already goes, and so does the index nothing reads any more. The
    column stays, for a replica of the version before, still marking, during a rolling upgrade."""
    op.execute(sa.text(f"DELETE FROM {service}_outbox WHERE published_at IS NOT NULL"))  # noqa: S608 (a service's name)
    op.drop_index(f"ix_{service}_outbox_published_at", f"{service}_outbox")


def relay_marks_outbox_rows(service: str) -> None:
    op.create_index(f"ix_{service}_outbox_published_at", f"{service}_outbox", ["published_at"])
