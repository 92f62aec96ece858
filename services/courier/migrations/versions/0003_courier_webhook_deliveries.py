"""Web hook and event sink deliveries.

Revision ID: courier_0003
Revises: courier_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "courier_0003"
down_revision = "courier_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "courier_webhook_deliveries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(255), nullable=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("body", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("send_count", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim_token", sa.String(36), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_courier_webhook_deliveries_created_at", "courier_webhook_deliveries", ["created_at"])
    op.create_index(
        "ix_courier_webhook_deliveries_status_next_attempt_at",
        "courier_webhook_deliveries",
        ["status", "next_attempt_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_courier_webhook_deliveries_status_next_attempt_at", "courier_webhook_deliveries")
    op.drop_index("ix_courier_webhook_deliveries_created_at", "courier_webhook_deliveries")
    op.drop_table("courier_webhook_deliveries")
