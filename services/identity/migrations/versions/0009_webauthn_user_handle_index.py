"""An index on the `user_handle` of every `webauthn` credential's config: a passkey sign-in whose user
handle no passkey holds looks for the security keys that have it (Kratos's migration path,
`find_by_webauthn_user_handle`), and anyone may send any handle to the unauthenticated passkey
login. Without the index each such request read and parsed the config of every security-key
credential. The expression is the one the lookup asks for, word for word
(services/identity/persistence.py, `WEBAUTHN_USER_HANDLE`), so that each engine uses it.

Revision ID: identity_0009
Revises: identity_0008
"""

from alembic import op

revision = "identity_0009"
down_revision = "identity_0008"
branch_labels = None
depends_on = None

NAME = "ix_identity_credentials_webauthn_user_handle"
# Copied here on purpose, not imported: a migration is history. Neither fails on a config that is
# not strict JSON (a legacy NaN sign count), which would stop the index's creation, or a write.
_EXPRESSION = {
    "postgresql": """substring(config from '"user_handle":\\s*"([^"\\\\]*)"')""",
    "sqlite": "CASE WHEN json_valid(config) THEN json_extract(config, '$.user_handle') END",
}


def upgrade() -> None:
    expression = _EXPRESSION[op.get_bind().dialect.name]
    op.execute(f"CREATE INDEX {NAME} ON identity_credentials (({expression})) WHERE type = 'webauthn'")


def downgrade() -> None:
    op.execute(f"DROP INDEX {NAME}")
