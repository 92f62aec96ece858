"""The session outbox relay deletes the events it has published instead of marking them: the table
holds only what waits, rather than every event ever raised.

Revision ID: session_0005
Revises: session_0004
"""

from shared.storage.migration_ops import relay_deletes_outbox_rows, relay_marks_outbox_rows

revision = "session_0005"
down_revision = "session_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    relay_deletes_outbox_rows("session")


def downgrade() -> None:
    relay_marks_outbox_rows("session")
