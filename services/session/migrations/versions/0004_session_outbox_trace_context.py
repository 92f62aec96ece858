"""The session outbox keeps the trace context of the request that wrote each event, so the relay's
publishing joins that request's trace.

Revision ID: session_0004
Revises: session_0003
"""

from shared.storage.migration_ops import add_outbox_trace_context, drop_outbox_trace_context

revision = "session_0004"
down_revision = "session_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_trace_context("session")


def downgrade() -> None:
    drop_outbox_trace_context("session")
