"""One-time codes and link tokens of verification and recovery flows (only their HMACs).

Revision ID: selfservice_0003
Revises: selfservice_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "selfservice_0003"
down_revision = "selfservice_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "selfservice_codes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("flow_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("address", sa.String(512), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("identity_id", sa.String(36), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    for column in ("flow_id", "secret_hash", "expires_at"):
        op.create_index(f"ix_selfservice_codes_{column}", "selfservice_codes", [column])


def downgrade() -> None:
    for column in ("flow_id", "secret_hash", "expires_at"):
        op.drop_index(f"ix_selfservice_codes_{column}", "selfservice_codes")
    op.drop_table("selfservice_codes")
