"""The last TOTP time step accepted per identity: a code is accepted once, in any process.

Revision ID: selfservice_0004
Revises: selfservice_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "selfservice_0004"
down_revision = "selfservice_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "selfservice_totp_steps",
        sa.Column("identity_id", sa.String(36), primary_key=True),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("selfservice_totp_steps")
