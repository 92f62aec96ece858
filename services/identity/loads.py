"""Reading identities whole in one query: the identity row and its credentials, identifiers and
addresses come back as one UNION ALL of five SELECTs, each row tagged with the table it is from.

A login, a whoami that misses the cache and every identity call of self-service load an identity;
one table per query made that five round trips to the database (and a BEGIN and ROLLBACK around
them). A JOIN would multiply the rows (credentials x identifiers x addresses), a UNION ALL only
adds them. The statements are built once, with bound parameters, so SQLAlchemy compiles each
once and asyncpg prepares each once per connection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Integer,
    Row,
    Text,
    bindparam,
    cast,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.sql import CompoundSelect
from sqlalchemy.sql.selectable import CTE

from services.identity.domain import Credential, Identity, RecoveryAddress, State, VerifiableAddress
from services.identity.tables import IdentityTables
from shared.json_codec import loads_stored

IDENTITY, CREDENTIAL, IDENTIFIER, VERIFIABLE, RECOVERY = range(5)
ALONGSIDE = 5  # rows of another statement that rode with a load (`alongside`)
# The columns every SELECT of the union fills, in order (None where a table has nothing to put).
_SHAPE = ("kind", "identity_id", "id", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "n1", "t1", "t2", "t3")
_TYPES: dict[str, Any] = {"n1": Integer, "t1": DateTime(timezone=True), "t2": DateTime(timezone=True)}
_TYPES["t3"] = _TYPES["t1"]

Condition = Callable[[Any], ColumnElement[bool]]  # an identity id column -> which identities


# Each kind: its table, the column naming the identity it belongs to, and which column fills
# which slot of _SHAPE (its own `id` always fills `id`). One list, so that the five SELECTs cannot
# drift apart, and adding a column is one entry here and one read in `_children`/`_identity`.
_SOURCES: tuple[tuple[int, str, str, dict[str, str]], ...] = (
    (
        IDENTITY,
        "identities",
        "id",
        {
            "s1": "schema_id",
            "s2": "state",
            "s3": "traits",
            "s4": "metadata_public",
            "s5": "metadata_admin",
            "s6": "external_id",
            "s7": "organization_id",
            "t1": "created_at",
            "t2": "updated_at",
            "t3": "state_changed_at",
        },
    ),
    (
        CREDENTIAL,
        "credentials",
        "identity_id",
        {"s1": "type", "s2": "config", "n1": "version", "t1": "created_at", "t2": "updated_at"},
    ),
    (IDENTIFIER, "identifiers", "identity_id", {"s1": "credential_id", "s2": "type", "s3": "identifier"}),
    (
        VERIFIABLE,
        "verifiable_addresses",
        "identity_id",
        {
            "s1": "via",
            "s2": "value",
            "s3": "status",
            "n1": "verified",
            "t1": "created_at",
            "t2": "updated_at",
            "t3": "verified_at",
        },
    ),
    (
        RECOVERY,
        "recovery_addresses",
        "identity_id",
        {"s1": "via", "s2": "value", "t1": "created_at", "t2": "updated_at"},
    ),
)


def _slot(table: Any, name: str, column: str | None) -> Any:
    if column is None:
        return cast(null(), _TYPES.get(name, Text)).label(name)
    value = table.c[column]
    if isinstance(value.type, Boolean):
        value = cast(value, Integer)  # a UNION column has one type: `verified` travels as 0/1 in n1
    return value.label(name)


def _branch(kind: int, table: Any, owner: str, slots: dict[str, str], which: Condition) -> Any:
    columns = {"identity_id": owner, "id": "id", **slots}
    values = [_slot(table, name, columns.get(name)) for name in _SHAPE[1:]]
    return select(literal(kind, Integer).label("kind"), *values).select_from(table).where(which(table.c[owner]))


def _union(t: IdentityTables, which: Condition, *, with_identities: bool = True) -> CompoundSelect[Any]:
    return union_all(
        *(
            _branch(kind, getattr(t, table), owner, slots, which)
            for kind, table, owner, slots in _SOURCES
            if with_identities or kind != IDENTITY
        )
    )


def alongside(load: CompoundSelect[Any], other: CTE, key: str, number: str) -> CompoundSelect[Any]:
    """`load` and the rows of `other` (a data-modifying statement with RETURNING, as a CTE) in one
    query, so one round trip: each of `other`'s rows comes as a row of kind ALONGSIDE, its `key` in
    identity_id and its `number` in n1. The callers split them off before `identities_from`."""
    slots = {"identity_id": other.c[key], "n1": other.c[number]}
    values = [slots[name].label(name) if name in slots else _slot(None, name, None) for name in _SHAPE[1:]]
    return union_all(load, select(literal(ALONGSIDE, Integer).label("kind"), *values).select_from(other))


def _whose(table: Any, owner: str, *names: str) -> Any:
    """The ids of the identities whose `table` row has every named column equal to the parameter
    of the same name."""
    return select(table.c[owner]).where(*(table.c[name] == bindparam(name) for name in names))


@dataclass(frozen=True)
class IdentityLoads:
    """The prepared statements, one per way of finding identities."""

    by_ids: CompoundSelect[Any]
    by_external_id: CompoundSelect[Any]
    by_identifier: CompoundSelect[Any]
    by_any_identifier: CompoundSelect[Any]
    by_verifiable_address: CompoundSelect[Any]
    by_recovery_address: CompoundSelect[Any]
    children_of: CompoundSelect[Any]  # for identities already read (a page): their children alone

    @classmethod
    def build(cls, t: IdentityTables) -> IdentityLoads:
        def among(ids: Any) -> Condition:
            return lambda column: column.in_(ids)

        def of(whose: Any) -> CompoundSelect[Any]:
            return _union(t, among(whose))

        ids: Any = bindparam("ids", expanding=True)
        return cls(
            by_ids=of(ids),
            by_external_id=of(_whose(t.identities, "id", "external_id")),
            by_identifier=of(_whose(t.identifiers, "identity_id", "type", "identifier")),
            by_any_identifier=of(_whose(t.identifiers, "identity_id", "identifier")),
            by_verifiable_address=of(_whose(t.verifiable_addresses, "identity_id", "via", "value")),
            by_recovery_address=of(_whose(t.recovery_addresses, "identity_id", "via", "value")),
            children_of=_union(t, among(ids), with_identities=False),
        )


def identities_from(rows: Sequence[Row[Any]], identity_rows: Sequence[Row[Any]] = ()) -> list[Identity]:
    """Identities (ordered by id) from the union's rows; `identity_rows`: rows of the identities
    table read beforehand, when the union carried only the children."""
    by_kind: dict[int, dict[str, list[Row[Any]]]] = {k: {} for k in range(5)}
    for row in rows:
        by_kind[row.kind].setdefault(row.identity_id, []).append(row)
    identities = [_identity_of_table_row(row, by_kind) for row in identity_rows]
    identities += [_identity(found[0], by_kind) for found in by_kind[IDENTITY].values()]
    return sorted(identities, key=lambda i: i.id)


def _ordered(rows: list[Row[Any]]) -> list[Row[Any]]:
    return sorted(rows, key=lambda r: (_utc(r.t1), r.id))  # as created, the id breaking ties


def _children(identity_id: str, by_kind: dict[int, dict[str, list[Row[Any]]]]) -> dict[str, Any]:
    identifiers: dict[str, list[str]] = {}
    for n in sorted(by_kind[IDENTIFIER].get(identity_id, []), key=lambda r: r.s3):
        identifiers.setdefault(n.s1, []).append(n.s3)
    credentials = {
        c.s1: Credential(
            type=c.s1,
            identifiers=tuple(identifiers.get(c.id, [])),
            config=loads_stored(c.s2),
            version=c.n1,
            id=c.id,
            created_at=_utc(c.t1),
            updated_at=_utc(c.t2),
        )
        for c in _ordered(by_kind[CREDENTIAL].get(identity_id, []))
    }
    verifiable = tuple(
        VerifiableAddress(
            value=a.s2,
            via=a.s1,
            verified=bool(a.n1),
            status=a.s3,
            verified_at=_utc(a.t3),
            id=a.id,
            created_at=_utc(a.t1),
            updated_at=_utc(a.t2),
        )
        for a in _ordered(by_kind[VERIFIABLE].get(identity_id, []))
    )
    recovery = tuple(
        RecoveryAddress(value=a.s2, via=a.s1, id=a.id, created_at=_utc(a.t1), updated_at=_utc(a.t2))
        for a in _ordered(by_kind[RECOVERY].get(identity_id, []))
    )
    return {"credentials": credentials, "verifiable_addresses": verifiable, "recovery_addresses": recovery}


def _identity(row: Any, by_kind: dict[int, dict[str, list[Row[Any]]]]) -> Identity:
    return Identity(
        id=row.id,
        schema_id=row.s1,
        state=State(row.s2),
        state_changed_at=_utc(row.t3),
        traits=loads_stored(row.s3),
        metadata_public=_json(row.s4),
        metadata_admin=_json(row.s5),
        external_id=row.s6,
        organization_id=row.s7,
        created_at=_utc(row.t1),
        updated_at=_utc(row.t2),
        **_children(row.id, by_kind),
    )


def _identity_of_table_row(row: Row[Any], by_kind: dict[int, dict[str, list[Row[Any]]]]) -> Identity:
    # A page reads the identities table itself: its row is put in the union's slots, so that one
    # function reads an identity either way.
    slots = {slot: getattr(row, column) for slot, column in _SOURCES[IDENTITY][3].items()}
    return _identity(SimpleNamespace(id=row.id, **slots), by_kind)


def _utc(value: datetime | None) -> Any:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # SQLite hands back naive timestamps; they were UTC


def _json(value: str | None) -> Any:
    # As every JSON column here: a NaN or an infinity stored before 54d9537 is read as None, so that
    # no answer, schema check or event carries a number JSON cannot spell.
    return None if value is None else loads_stored(value)
