"""Self-service flows and stored self-service errors.

Revision ID: selfservice_0002
Revises: selfservice_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "selfservice_0002"
down_revision = "selfservice_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "selfservice_flows",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_selfservice_flows_expires_at", "selfservice_flows", ["expires_at"])
    op.create_table(
        "selfservice_errors",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("csrf_token", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_selfservice_errors_created_at", "selfservice_errors", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_selfservice_errors_created_at", "selfservice_errors")
    op.drop_table("selfservice_errors")
    op.drop_index("ix_selfservice_flows_expires_at", "selfservice_flows")
    op.drop_table("selfservice_flows")
