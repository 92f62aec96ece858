"""The drops a process-local session cache (`cache.url: memory`) made, for the caches of the other
processes on the same database (services/session/cache_drops.py).

Revision ID: session_0007
Revises: session_0006
"""

import sqlalchemy as sa
from alembic import op

revision = "session_0007"
down_revision = "session_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_cache_drops",
        sa.Column("position", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("dropped_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_session_cache_drops_dropped_at", "session_cache_drops", ["dropped_at"])


def downgrade() -> None:
    op.drop_index("ix_session_cache_drops_dropped_at", table_name="session_cache_drops")
    op.drop_table("session_cache_drops")
