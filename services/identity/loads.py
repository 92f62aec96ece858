"""Reading identities whole in one query: the identity row and its credentials, identifiers and
addresses come back as one UNION ALL of five SELECTs, each row tagged with the table it is from.

A login, a whoami that misses the cache and every identity call of self-service load an identity;
one table per query made that five round trips to the database (and a BEGIN and ROLLBACK around
them). A JOIN would multiply the rows (credentials x identifiers x addresses), a UNION ALL only
adds them. The statements are built once, with bound parameters, so SQLAlchemy compiles each
once and asyncpg prepares each once per connection.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, DateTime, Integer, Row, Text, bindparam, cast, literal, null, select, union_all
from sqlalchemy.sql import CompoundSelect

from services.identity.domain import Credential, Identity, RecoveryAddress, State, VerifiableAddress
from services.identity.tables import IdentityTables

IDENTITY, CREDENTIAL, IDENTIFIER, VERIFIABLE, RECOVERY = range(5)
# The columns every SELECT of the union fills, in order (None where a table has nothing to put).
_SHAPE = ("kind", "identity_id", "id", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "n1", "t1", "t2", "t3")
_TYPES: dict[str, Any] = {"n1": Integer, "t1": DateTime(timezone=True), "t2": DateTime(timezone=True)}
_TYPES["t3"] = _TYPES["t1"]

Condition = Callable[[Any], ColumnElement[bool]]  # an identity id column -> which identities


def _branch(kind: int, table: Any, where: ColumnElement[bool], **columns: Any) -> Any:
    values = []
    for name in _SHAPE[1:]:
        value = columns.get(name)
        values.append((value if value is not None else cast(null(), _TYPES.get(name, Text))).label(name))
    return select(literal(kind, Integer).label("kind"), *values).select_from(table).where(where)


def _union(t: IdentityTables, which: Condition, *, with_identities: bool = True) -> CompoundSelect[Any]:
    i, c, n, v, r = t.identities, t.credentials, t.identifiers, t.verifiable_addresses, t.recovery_addresses
    branches = [
        _branch(
            CREDENTIAL,
            c,
            which(c.c.identity_id),
            identity_id=c.c.identity_id,
            id=c.c.id,
            s1=c.c.type,
            s2=c.c.config,
            n1=c.c.version,
            t1=c.c.created_at,
            t2=c.c.updated_at,
        ),
        _branch(
            IDENTIFIER,
            n,
            which(n.c.identity_id),
            identity_id=n.c.identity_id,
            id=n.c.id,
            s1=n.c.credential_id,
            s2=n.c.type,
            s3=n.c.identifier,
        ),
        _branch(
            VERIFIABLE,
            v,
            which(v.c.identity_id),
            identity_id=v.c.identity_id,
            id=v.c.id,
            s1=v.c.via,
            s2=v.c.value,
            s3=v.c.status,
            n1=cast(v.c.verified, Integer),
            t1=v.c.created_at,
            t2=v.c.updated_at,
            t3=v.c.verified_at,
        ),
        _branch(
            RECOVERY,
            r,
            which(r.c.identity_id),
            identity_id=r.c.identity_id,
            id=r.c.id,
            s1=r.c.via,
            s2=r.c.value,
            t1=r.c.created_at,
            t2=r.c.updated_at,
        ),
    ]
    if with_identities:
        identity = _branch(
            IDENTITY,
            i,
            which(i.c.id),
            identity_id=i.c.id,
            id=i.c.id,
            s1=i.c.schema_id,
            s2=i.c.state,
            s3=i.c.traits,
            s4=i.c.metadata_public,
            s5=i.c.metadata_admin,
            s6=i.c.external_id,
            s7=i.c.organization_id,
            t1=i.c.created_at,
            t2=i.c.updated_at,
            t3=i.c.state_changed_at,
        )
        branches.insert(0, identity)
    return union_all(*branches)


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
        n, v, r = t.identifiers, t.verifiable_addresses, t.recovery_addresses

        def among(ids: Any) -> Condition:
            return lambda column: column.in_(ids)

        ids: Any = bindparam("ids", expanding=True)
        return cls(
            by_ids=_union(t, among(ids)),
            by_external_id=_union(
                t, among(select(t.identities.c.id).where(t.identities.c.external_id == bindparam("external_id")))
            ),
            by_identifier=_union(
                t,
                among(
                    select(n.c.identity_id).where(
                        n.c.type == bindparam("type"), n.c.identifier == bindparam("identifier")
                    )
                ),
            ),
            by_any_identifier=_union(
                t, among(select(n.c.identity_id).where(n.c.identifier == bindparam("identifier")))
            ),
            by_verifiable_address=_union(
                t, among(select(v.c.identity_id).where(v.c.via == bindparam("via"), v.c.value == bindparam("value")))
            ),
            by_recovery_address=_union(
                t, among(select(r.c.identity_id).where(r.c.via == bindparam("via"), r.c.value == bindparam("value")))
            ),
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
            config=json.loads(c.s2),
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


def _identity(row: Row[Any], by_kind: dict[int, dict[str, list[Row[Any]]]]) -> Identity:
    return Identity(
        id=row.id,
        schema_id=row.s1,
        state=State(row.s2),
        state_changed_at=_utc(row.t3),
        traits=json.loads(row.s3),
        metadata_public=_json(row.s4),
        metadata_admin=_json(row.s5),
        external_id=row.s6,
        organization_id=row.s7,
        created_at=_utc(row.t1),
        updated_at=_utc(row.t2),
        **_children(row.id, by_kind),
    )


def _identity_of_table_row(row: Row[Any], by_kind: dict[int, dict[str, list[Row[Any]]]]) -> Identity:
    return Identity(
        id=row.id,
        schema_id=row.schema_id,
        state=State(row.state),
        state_changed_at=_utc(row.state_changed_at),
        traits=json.loads(row.traits),
        metadata_public=_json(row.metadata_public),
        metadata_admin=_json(row.metadata_admin),
        external_id=row.external_id,
        organization_id=row.organization_id,
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
        **_children(row.id, by_kind),
    )


def _utc(value: datetime | None) -> Any:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # SQLite hands back naive timestamps; they were UTC


def _json(value: str | None) -> Any:
    return None if value is None else json.loads(value)
