"""The courier keeps the trace context behind each web hook delivery, as it does behind each message,
so that a fire-and-forget web hook (and an event sink call) is sent inside the trace of the flow, or
the event, that asked for it.

Revision ID: courier_0005
Revises: courier_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "courier_0005"
down_revision = "courier_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("courier_webhook_deliveries", sa.Column("trace_context", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("courier_webhook_deliveries") as batch:
        batch.drop_column("trace_context")
