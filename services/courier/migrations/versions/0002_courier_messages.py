"""Courier messages and their dispatch attempts.

Revision ID: courier_0002
Revises: courier_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "courier_0002"
down_revision = "courier_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "courier_messages",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(255), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("html_body", sa.Text, nullable=True),
        sa.Column("template_type", sa.String(64), nullable=False),
        sa.Column("template_data", sa.Text, nullable=False),
        sa.Column("send_count", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim_token", sa.String(36), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_courier_messages_recipient", "courier_messages", ["recipient"])
    op.create_index("ix_courier_messages_created_at", "courier_messages", ["created_at"])
    op.create_index("ix_courier_messages_status_next_attempt_at", "courier_messages", ["status", "next_attempt_at"])
    op.create_table(
        "courier_dispatches",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("message_id", sa.String(36), sa.ForeignKey("courier_messages.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_courier_dispatches_message_id", "courier_dispatches", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_courier_dispatches_message_id", "courier_dispatches")
    op.drop_table("courier_dispatches")
    op.drop_index("ix_courier_messages_status_next_attempt_at", "courier_messages")
    op.drop_index("ix_courier_messages_created_at", "courier_messages")
    op.drop_index("ix_courier_messages_recipient", "courier_messages")
    op.drop_table("courier_messages")
