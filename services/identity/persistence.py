"""Identities in SQL, the same code on PostgreSQL and SQLite. Every method runs on the connection of
the caller's unit of work, so a change and its events commit together."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, Select, String, Table, delete, func, insert, literal_column, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import CompoundSelect

from services.identity.domain import Credential, Identity, RecoveryAddress, VerifiableAddress, new_id
from services.identity.errors import IdentityConflict
from services.identity.loads import IdentityLoads, identities_from
from services.identity.tables import IdentityTables
from shared.storage.connection import Connection

# A `webauthn` credential's user handle, word for word as the index of identity_0009 has it, so that
# each engine uses that index (a bound key or path, or another spelling, would not match it). Neither
# fails on a config that is not strict JSON (a legacy NaN sign count), which an index must survive:
# PostgreSQL reads the top-level string from the text (a handle is base64, never escaped, and no
# other key of the config is so named), SQLite parses what parses.
WEBAUTHN_USER_HANDLE = {
    "postgresql": """substring(config from '"user_handle":\\s*"([^"\\\\]*)"')""",
    "sqlite": "CASE WHEN json_valid(config) THEN json_extract(config, '$.user_handle') END",
}


def webauthn_handle_owner(credentials: Table, dialect: str, forms: Sequence[str]) -> Select[Any]:
    """The first identity (by id) whose `webauthn` credential holds one of `forms` as its user handle,
    by the expression identity_0009 indexes: anyone may send any handle to the passkey login. (The
    sign-in then checks the assertion against that identity's own keys.)"""
    stored = literal_column(WEBAUTHN_USER_HANDLE[dialect], String)
    return (
        select(credentials.c.identity_id)
        .where(literal_column("type = 'webauthn'"), or_(*(stored == form for form in forms)))
        .order_by(credentials.c.identity_id)
        .limit(1)
    )


class IdentityRepository:
    def __init__(self, tables: IdentityTables) -> None:
        self.t = tables
        self._loads = IdentityLoads.build(tables)

    async def insert(self, conn: Connection, identity: Identity) -> None:
        await self.insert_many(conn, [identity])

    async def insert_many(self, conn: Connection, identities: Sequence[Identity]) -> None:
        """One INSERT per table for the whole lot: a batch import costs six statements, not six per identity."""
        try:
            await conn.execute(insert(self.t.identities), [_identity_row(i) for i in identities])
            await self._insert_children(conn, identities)
        except IntegrityError as exc:
            raise IdentityConflict() from exc

    async def replace(self, conn: Connection, identity: Identity) -> None:
        """Writes the whole identity over its stored self (children are rewritten, ids kept)."""
        try:
            row = _identity_row(identity)
            await conn.execute(self.t.identities.update().where(self.t.identities.c.id == identity.id).values(**row))
            await self._delete_children(conn, identity.id)
            await self._insert_children(conn, [identity])
        except IntegrityError as exc:
            raise IdentityConflict() from exc

    async def swap_credential_config(
        self, conn: Connection, identity_id: str, kind: str, expected: dict[str, Any], config: dict[str, Any]
    ) -> bool:
        """Compare-and-set of one credential's config: written only if it still reads `expected`, so
        of two concurrent changes made from the same reading exactly one lands (single-use codes)."""
        t = self.t.credentials
        moment = datetime.now(UTC)
        result = await conn.execute(
            t.update()
            .where(t.c.identity_id == identity_id, t.c.type == kind, t.c.config == json.dumps(expected))
            .values(config=json.dumps(config), updated_at=moment)
        )
        if result.rowcount != 1:
            return False
        identities = self.t.identities
        await conn.execute(identities.update().where(identities.c.id == identity_id).values(updated_at=moment))
        return True

    async def backup_code_sets(self, conn: Connection, after: str, limit: int) -> list[tuple[str, dict[str, Any]]]:
        """(identity id, stored set) of the identities above `after`, in order, that have backup
        codes: the caller reads the sets (a text match on the JSON would be fooled by any value)."""
        t = self.t.credentials
        rows = await conn.execute(
            select(t.c.identity_id, t.c.config)
            .where(t.c.type == "lookup_secret", t.c.identity_id > after)
            .order_by(t.c.identity_id)
            .limit(limit)
        )
        return [(row[0], json.loads(row[1])) for row in rows]

    async def delete(self, conn: Connection, identity_id: str) -> bool:
        await self._delete_children(conn, identity_id)
        result = await conn.execute(delete(self.t.identities).where(self.t.identities.c.id == identity_id))
        return result.rowcount > 0

    async def get(self, conn: Connection, identity_id: str) -> Identity | None:
        found = await self.get_many(conn, [identity_id])
        return found[0] if found else None

    async def get_many(self, conn: Connection, ids: Sequence[str]) -> list[Identity]:
        return await self._load(conn, self._loads.by_ids, {"ids": list(ids)})

    async def get_by_external_id(self, conn: Connection, external_id: str) -> Identity | None:
        found = await self._load(conn, self._loads.by_external_id, {"external_id": external_id})
        return found[0] if found else None

    async def find_by_identifier(
        self, conn: Connection, credential_type: str | None, identifier: str
    ) -> list[Identity]:
        if credential_type:
            return await self._load(
                conn, self._loads.by_identifier, {"type": credential_type, "identifier": identifier}
            )
        return await self._load(conn, self._loads.by_any_identifier, {"identifier": identifier})

    async def webauthn_user_handle_owner(self, conn: Connection, forms: Sequence[str]) -> str | None:
        """The id of the identity whose `webauthn` credential's config holds one of `forms` as its
        `user_handle` (Kratos's FindIdentityByWebauthnUserHandle: the first by id if several do)."""
        row = (await conn.execute(webauthn_handle_owner(self.t.credentials, conn.dialect.name, forms))).first()
        return str(row[0]) if row is not None else None

    def identifier_read(self, credential_type: str, identifier: str) -> tuple[CompoundSelect[Any], dict[str, Any]]:
        """The load `find_by_identifier` runs, as a statement and its values, for a caller that sends it
        together with a statement of its own (the password throttle's count); `identities_from`
        reads its rows."""
        return self._loads.by_identifier, {"type": credential_type, "identifier": identifier}

    async def find_by_verifiable_address(self, conn: Connection, via: str, value: str) -> Identity | None:
        found = await self._load(conn, self._loads.by_verifiable_address, {"via": via, "value": value})
        return found[0] if found else None

    async def find_by_recovery_address(self, conn: Connection, via: str, value: str) -> Identity | None:
        found = await self._load(conn, self._loads.by_recovery_address, {"via": via, "value": value})
        return found[0] if found else None

    async def page(
        self,
        conn: Connection,
        *,
        after: str | None,
        size: int,
        offset: int = 0,
        similar: str | None = None,
        organization_id: str | None = None,
    ) -> list[Identity]:
        """Keyset pagination by id: stable under concurrent inserts, no OFFSET scans (`offset` is for
        the deprecated page numbers alone, which reach no further than 1000 rows). `similar` keeps
        identities with an identifier containing it (case-insensitive; Kratos's preview similarity
        search, done with LIKE so that every engine runs it)."""
        query = select(self.t.identities).order_by(self.t.identities.c.id).limit(size)
        if after:
            query = query.where(self.t.identities.c.id > after)
        if offset:
            query = query.offset(offset)
        if organization_id:
            query = query.where(self.t.identities.c.organization_id == organization_id)
        if similar:
            pattern = "%" + similar.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            matching = select(self.t.identifiers.c.identity_id).where(
                func.lower(self.t.identifiers.c.identifier).like(pattern, escape="\\")
            )
            query = query.where(self.t.identities.c.id.in_(matching))
        return await self._hydrate(conn, (await conn.execute(query)).all())

    async def count(self, conn: Connection) -> int:
        return int((await conn.execute(select(func.count()).select_from(self.t.identities))).scalar_one())

    async def _delete_children(self, conn: Connection, identity_id: str) -> None:
        # Explicit rather than ON DELETE CASCADE alone: SQLite enforces foreign keys only per connection.
        for table in (self.t.identifiers, self.t.credentials, self.t.verifiable_addresses, self.t.recovery_addresses):
            await conn.execute(delete(table).where(table.c.identity_id == identity_id))

    async def _insert_children(self, conn: Connection, identities: Sequence[Identity]) -> None:
        t = self.t
        credentials = [(i.id, c) for i in identities for c in i.credentials.values()]
        rows = {
            t.credentials: [_credential_row(identity_id, c) for identity_id, c in credentials],
            t.identifiers: [
                {
                    "id": new_id(),
                    "identity_id": identity_id,
                    "credential_id": c.id,
                    "type": c.type,
                    "identifier": identifier,
                }
                for identity_id, c in credentials
                for identifier in c.identifiers
            ],
            t.verifiable_addresses: [
                {"identity_id": i.id, **_address_row(a)} for i in identities for a in i.verifiable_addresses
            ],
            t.recovery_addresses: [
                {"identity_id": i.id, **_address_row(a)} for i in identities for a in i.recovery_addresses
            ],
        }
        for table, values in rows.items():  # credentials before identifiers: the foreign key
            if values:
                await conn.execute(insert(table), values)

    async def _load(self, conn: Connection, statement: Any, params: dict[str, Any]) -> list[Identity]:
        """Identities with all their children, in one query (see `loads.py`)."""
        return identities_from((await conn.execute(statement, params)).all())

    async def _hydrate(self, conn: Connection, rows: Sequence[Row[Any]]) -> list[Identity]:
        """The identities of a page, read already: their children in one more query."""
        if not rows:
            return []
        children = (await conn.execute(self._loads.children_of, {"ids": [r.id for r in rows]})).all()
        return identities_from(children, rows)


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def _identity_row(identity: Identity) -> dict[str, Any]:
    return {
        "id": identity.id,
        "schema_id": identity.schema_id,
        "state": identity.state.value,
        "state_changed_at": identity.state_changed_at,
        "traits": json.dumps(identity.traits),
        "metadata_public": _dump(identity.metadata_public),
        "metadata_admin": _dump(identity.metadata_admin),
        "external_id": identity.external_id,
        "organization_id": identity.organization_id,
        "created_at": identity.created_at,
        "updated_at": identity.updated_at,
    }


def _credential_row(identity_id: str, credential: Credential) -> dict[str, Any]:
    return {
        "id": credential.id,
        "identity_id": identity_id,
        "type": credential.type,
        "config": json.dumps(credential.config),
        "version": credential.version,
        "created_at": credential.created_at,
        "updated_at": credential.updated_at,
    }


def _address_row(address: VerifiableAddress | RecoveryAddress) -> dict[str, Any]:
    row = {
        "id": address.id,
        "via": address.via,
        "value": address.value,
        "created_at": address.created_at,
        "updated_at": address.updated_at,
    }
    if isinstance(address, VerifiableAddress):
        row.update(verified=address.verified, status=address.status, verified_at=address.verified_at)
    return row
