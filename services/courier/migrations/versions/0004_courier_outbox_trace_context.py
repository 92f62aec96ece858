"""The courier keeps the trace context of the request behind each event in its outbox and behind
each message in its queue, so the relay's publishing and the dispatcher's send join that trace.

Revision ID: courier_0004
Revises: courier_0003
"""

import sqlalchemy as sa
from alembic import op

from shared.storage.migration_ops import add_outbox_trace_context, drop_outbox_trace_context

revision = "courier_0004"
down_revision = "courier_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_trace_context("courier")
    op.add_column("courier_messages", sa.Column("trace_context", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("courier_messages") as batch:
        batch.drop_column("trace_context")
    drop_outbox_trace_context("courier")
