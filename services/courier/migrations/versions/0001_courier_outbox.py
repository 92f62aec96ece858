"""The courier service's outbox and processed-events tables.

Revision ID: courier_0001
Revises:
"""

from shared.storage.migration_ops import create_outbox_v1, drop_outbox_v1

revision = "courier_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_v1("courier")


def downgrade() -> None:
    drop_outbox_v1("courier")
