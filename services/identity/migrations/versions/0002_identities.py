"""Identities, their credentials and identifiers, verifiable and recovery addresses.

Revision ID: identity_0002
Revises: identity_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_0002"
down_revision = "identity_0001"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _identity_fk() -> sa.Column:
    return sa.Column("identity_id", sa.String(36), sa.ForeignKey("identity_identities.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "identity_identities",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("schema_id", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("traits", sa.Text, nullable=False),
        sa.Column("metadata_public", sa.Text, nullable=True),
        sa.Column("metadata_admin", sa.Text, nullable=True),
        sa.Column("external_id", sa.String(255), nullable=True, unique=True),
        sa.Column("organization_id", sa.String(36), nullable=True),
        *_timestamps(),
    )
    op.create_table(
        "identity_credentials",
        sa.Column("id", sa.String(36), primary_key=True),
        _identity_fk(),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        *_timestamps(),
        sa.UniqueConstraint("identity_id", "type", name="uq_identity_credentials_identity_type"),
    )
    op.create_table(
        "identity_credential_identifiers",
        sa.Column("id", sa.String(36), primary_key=True),
        _identity_fk(),
        sa.Column("credential_id", sa.String(36), sa.ForeignKey("identity_credentials.id", ondelete="CASCADE"), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("identifier", sa.String(512), nullable=False),
        sa.UniqueConstraint("type", "identifier", name="uq_identity_identifiers_type_identifier"),
    )
    op.create_table(
        "identity_verifiable_addresses",
        sa.Column("id", sa.String(36), primary_key=True),
        _identity_fk(),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("value", sa.String(512), nullable=False),
        sa.Column("verified", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.UniqueConstraint("via", "value", name="uq_identity_verifiable_via_value"),
    )
    op.create_table(
        "identity_recovery_addresses",
        sa.Column("id", sa.String(36), primary_key=True),
        _identity_fk(),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("value", sa.String(512), nullable=False),
        *_timestamps(),
        sa.UniqueConstraint("via", "value", name="uq_identity_recovery_via_value"),
    )
    for table in ("identity_credentials", "identity_credential_identifiers", "identity_verifiable_addresses", "identity_recovery_addresses"):
        op.create_index(f"ix_{table}_identity_id", table, ["identity_id"])


def downgrade() -> None:
    for table in ("identity_recovery_addresses", "identity_verifiable_addresses", "identity_credential_identifiers", "identity_credentials"):
        op.drop_index(f"ix_{table}_identity_id", table)
        op.drop_table(table)
    op.drop_table("identity_identities")
