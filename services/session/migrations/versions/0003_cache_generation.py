"""The session cache's generation: advanced when a revocation could not reach the cache, so that
every session process, restarted or not, clears the cache before trusting it again.

Revision ID: session_0003
Revises: session_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "session_0003"
down_revision = "session_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "session_cache_generation",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("generation", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(table, [{"id": 1, "generation": 0}])


def downgrade() -> None:
    op.drop_table("session_cache_generation")
