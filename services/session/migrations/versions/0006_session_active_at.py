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
    with op.batch_alter_table("session_sessions") as table:  # SQLite drops a column by copying the table
        table.drop_column("active_at")
