"""Phone numbers among the identifiers already stored, in E.164 (a property test found it): an
identifier was made E.164 only when it was typed as a plain number, and folded otherwise, so
"＋49 30 1234567" (fullwidth) was stored as "+49 30 1234567" while "+49 30 1234567" became
"+49301234567": one number, two identifiers, and a login with the other spelling found nothing.
Identifiers are now folded first (`graceful`); this rewrites each stored one that reads as a phone
number to its E.164 form, unless another row of its kind holds that already (two accounts stay two,
and are logged for the operator, as identity_0004 does). The rule is copied here on purpose (a
migration is history). Downgrading leaves the rewritten values (valid identifiers for the old code).

Revision ID: identity_0008
Revises: identity_0007
"""

import logging
import re

import sqlalchemy as sa
from alembic import op

revision = "identity_0008"
down_revision = "identity_0007"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.identity_0008")

_PUNCTUATION = re.compile(r"[\s\-.()/]")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def _e164(value: str) -> str | None:
    compact = _PUNCTUATION.sub("", value.replace("(0)", ""))
    return compact if _E164.fullmatch(compact) else None


def upgrade() -> None:
    table = sa.Table(
        "identity_credential_identifiers",
        sa.MetaData(),
        sa.Column("id", sa.String(36)),
        sa.Column("type", sa.String(32)),
        sa.Column("identifier", sa.String(512)),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(table.c.id, table.c.type, table.c.identifier).where(table.c.identifier.like("+%"))
    ).all()
    taken = {(row.type, row.identifier) for row in rows}
    for row in rows:
        number = _e164(row.identifier)
        if number is None or number == row.identifier:
            continue
        if (row.type, number) in taken:
            log.warning("identity_credential_identifiers %s: its E.164 form is another row's; kept as it is", row.id)
            continue
        bind.execute(sa.update(table).where(table.c.id == row.id).values(identifier=number))
        taken.discard((row.type, row.identifier))
        taken.add((row.type, number))


def downgrade() -> None:
    pass
