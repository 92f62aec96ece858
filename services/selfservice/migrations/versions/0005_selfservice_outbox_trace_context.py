"""The selfservice outbox keeps the trace context of the request that wrote each event, so the relay's
publishing joins that request's trace.

Revision ID: selfservice_0005
Revises: selfservice_0004
"""

from shared.storage.migration_ops import add_outbox_trace_context, drop_outbox_trace_context

revision = "selfservice_0005"
down_revision = "selfservice_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_trace_context("selfservice")


def downgrade() -> None:
    drop_outbox_trace_context("selfservice")
