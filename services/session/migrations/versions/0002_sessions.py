"""Sessions and their devices.

Revision ID: session_0002
Revises: session_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "session_0002"
down_revision = "session_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("identity_id", sa.String(36), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("authenticated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("authentication_methods", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_session_sessions_identity_id", "session_sessions", ["identity_id"])
    op.create_index("ix_session_sessions_expires_at", "session_sessions", ["expires_at"])
    op.create_table(
        "session_devices",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("session_id", sa.String(36), sa.ForeignKey("session_sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("ip_address", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(512), nullable=True),
        sa.Column("location", sa.String(255), nullable=True),
    )
    op.create_index("ix_session_devices_session_id", "session_devices", ["session_id"])


def downgrade() -> None:
    op.drop_index("ix_session_devices_session_id", "session_devices")
    op.drop_table("session_devices")
    op.drop_index("ix_session_sessions_expires_at", "session_sessions")
    op.drop_index("ix_session_sessions_identity_id", "session_sessions")
    op.drop_table("session_sessions")
