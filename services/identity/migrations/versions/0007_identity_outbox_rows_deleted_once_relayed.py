"""The identity outbox relay deletes the events it has published instead of marking them: the table
holds only what waits, rather than every event ever raised.

Revision ID: identity_0007
Revises: identity_0006
"""

from shared.storage.migration_ops import relay_deletes_outbox_rows, relay_marks_outbox_rows

revision = "identity_0007"
down_revision = "identity_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    relay_deletes_outbox_rows("identity")


def downgrade() -> None:
    relay_marks_outbox_rows("identity")
