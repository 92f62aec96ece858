"""Fold the identifiers and email addresses already stored, as new ones are folded (review finding 11:
look-alike accounts). Password and WebAuthn identifiers: NFKC, default-ignorable code points removed,
case-folded; email addresses (verifiable, recovery, code identifiers): the same but lower-cased.

A row whose folded value another row already holds keeps its value: two accounts that were look-alikes
before stay two accounts (each still signs in with its own spelling, which is looked up first) and the
migration logs them for the operator. The rules are copied here on purpose (a migration is history);
`shared/identifiers.py` holds the live ones. Downgrading leaves the folded values (they are valid
identifiers for the old code too).

Revision ID: identity_0004
Revises: identity_0003
"""

import logging
import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "identity_0004"
down_revision = "identity_0003"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.identity_0004")

_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)  # fmt: skip
_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")


def _visible(value: str) -> str:
    value = unicodedata.normalize("NFKC", value)
    return "".join(c for c in value if not any(low <= ord(c) <= high for low, high in _IGNORABLE))


def _fold(value: str) -> str:
    if _PHONE.fullmatch(value):
        return value
    return unicodedata.normalize("NFKC", _visible(value).casefold()).strip()


def _fold_address(value: str) -> str:
    if "@" not in value:
        return value
    return unicodedata.normalize("NFKC", _visible(value).lower()).strip()


def _refold(table: sa.Table, value_column: str, kind_column: str, fold_for: dict[str, object]) -> None:
    """Rewrites each row's value by the fold for its kind, unless another row of that kind holds it."""
    bind = op.get_bind()
    column, kind = table.c[value_column], table.c[kind_column]
    rows = bind.execute(sa.select(table.c.id, kind, column).where(kind.in_(list(fold_for)))).all()
    taken = {(row[1], row[2]) for row in rows}
    for row_id, row_kind, value in rows:
        folded = fold_for[row_kind](value)  # type: ignore[operator]
        if folded == value:
            continue
        if (row_kind, folded) in taken:
            log.warning("%s %s: its folded %s is another row's; kept as it is", table.name, row_id, value_column)
            continue
        bind.execute(sa.update(table).where(table.c.id == row_id).values({value_column: folded}))
        taken.discard((row_kind, value))
        taken.add((row_kind, folded))


def upgrade() -> None:
    meta = sa.MetaData()
    identifiers = sa.Table(
        "identity_credential_identifiers",
        meta,
        sa.Column("id", sa.String(36)),
        sa.Column("type", sa.String(32)),
        sa.Column("identifier", sa.String(512)),
    )
    _refold(identifiers, "identifier", "type", {"password": _fold, "webauthn": _fold, "code": _fold_address})
    for name in ("identity_verifiable_addresses", "identity_recovery_addresses"):
        addresses = sa.Table(
            name, meta, sa.Column("id", sa.String(36)), sa.Column("via", sa.String(16)), sa.Column("value", sa.String(512))
        )
        _refold(addresses, "value", "via", {"email": _fold_address})


def downgrade() -> None:
    pass
