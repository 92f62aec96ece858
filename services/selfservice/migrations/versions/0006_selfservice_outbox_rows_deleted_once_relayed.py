"""The selfservice outbox relay deletes the events it has published instead of marking them: the table
holds only what waits, rather than every event ever raised.

Revision ID: selfservice_0006
Revises: selfservice_0005
"""

from shared.storage.migration_ops import relay_deletes_outbox_rows, relay_marks_outbox_rows

revision = "selfservice_0006"
down_revision = "selfservice_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    relay_deletes_outbox_rows("selfservice")


def downgrade() -> None:
    relay_marks_outbox_rows("selfservice")
