"""The identity outbox keeps the trace context of the request that wrote each event, so the relay's
publishing joins that request's trace.

Revision ID: identity_0006
Revises: identity_0005
"""

from shared.storage.migration_ops import add_outbox_trace_context, drop_outbox_trace_context

revision = "identity_0006"
down_revision = "identity_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_trace_context("identity")


def downgrade() -> None:
    drop_outbox_trace_context("identity")
