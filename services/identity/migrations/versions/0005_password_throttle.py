"""Password throttling per (identifier, client IP) and per identifier, with Unix-time columns that
both engines compare alike. The old per-identifier counts are not carried over: they only slow
guessing for at most 15 minutes, and their keys cannot tell the addresses apart.

Revision ID: identity_0005
Revises: identity_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_0005"
down_revision = "identity_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("identity_login_throttle")
    op.create_table(
        "identity_password_throttle",
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("blocked_until", sa.Float, nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("identity_password_throttle")
    op.create_table(
        "identity_login_throttle",
        sa.Column("identifier_hash", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
