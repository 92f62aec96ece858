"""When a session was last used, for `session.inactivity_timeout` (Warden's, checklist SE-6): a
session unused for that long is refused, however long its lifespan still runs. NULL for the
sessions of before, which count from their last authentication.

Revision ID: session_0006
Revises: session_0005
"""

import sqlalchemy as sa
from alembic import op

revision = "session_0006"
down_revision = "session_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("session_sessions", sa.Column("active_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Not a batch copy of the table on SQLite: dropping the table it copies would cascade to every
    # device row. SQLite (3.35 and later) drops a column in place, as PostgreSQL does.
    op.execute("ALTER TABLE session_sessions DROP COLUMN active_at")
