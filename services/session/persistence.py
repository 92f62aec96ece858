"""Sessions in SQL, the same code on PostgreSQL and SQLite, on the caller's unit of work."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Insert, Row, Select, and_, bindparam, delete, insert, or_, select, update

from services.session.domain import AuthenticationMethod, Device, Session, now
from services.session.tables import SessionTables
from shared.storage.connection import Connection
from shared.storage.prebuilt import bound, insert_of


class SessionRepository:
    def __init__(self, tables: SessionTables) -> None:
        self.t = tables
        # Built once: issuing a session is on every login (shared/storage/prebuilt.py).
        self._insert_session = insert_of(tables.sessions, "session", SESSION_COLUMNS)
        self._insert_device = insert_of(tables.devices, "device", DEVICE_COLUMNS)
        # And reading one back, by id or by token, on a whoami that misses the cache.
        self._by_id = self._with_devices(tables.sessions.c.id == bindparam("session_id"))
        self._by_token_hash = self._with_devices(tables.sessions.c.token_hash == bindparam("session_token_hash"))
        c = tables.sessions.c
        self._record_use = (
            update(tables.sessions)
            .where(
                c.token_hash == bindparam("digest"),
                c.active.is_(True),
                or_(c.active_at.is_(None), c.active_at < bindparam("at")),  # never backwards
            )
            .values(active_at=bindparam("at"))
        )

    def inserts(self, session: Session) -> list[tuple[Insert, dict[str, Any]]]:
        """The statements that store a new session, with their values (for a unit of work to send
        with its event). A session has one device when issued; several are one multi-row VALUES."""
        statements = [(self._insert_session, bound("session", _row(session)))]
        rows = _device_rows(session)
        if len(rows) == 1:
            statements.append((self._insert_device, bound("device", rows[0])))
        elif rows:
            statements.append((insert(self.t.devices).values(rows), {}))
        return statements

    async def save(self, conn: Connection, session: Session) -> bool:
        """Writes a change to a session that is still active; False if it is not (a revocation
        committed since it was read: writing the row read before would bring the session back)."""
        c = self.t.sessions.c
        # Not the last use either: one recorded since this session was read must not be undone.
        changes = {k: v for k, v in _row(session).items() if k not in ("id", "active", "active_at")}
        updated = await conn.execute(
            update(self.t.sessions).where(c.id == session.id, c.active.is_(True)).values(**changes)
        )
        if updated.rowcount == 0:
            return False
        await conn.execute(delete(self.t.devices).where(self.t.devices.c.session_id == session.id))
        await self._insert_devices(conn, session)
        return True

    async def extend(
        self, conn: Connection, session_id: str, expires_at: datetime, ends_before: datetime | None
    ) -> str | None:
        """Moves an active session's expiry to `expires_at`, if it ends before `ends_before` (None: in
        any case); returns its token hash (to drop from the cache), or None if nothing was written.
        One statement, the expiry alone: a revocation committed before it wins (the row is not read
        first and written back), and the devices are not rewritten."""
        c = self.t.sessions.c
        conditions = [c.id == session_id, c.active.is_(True)]
        if ends_before is not None:
            conditions.append(c.expires_at < ends_before)
        statement = (
            update(self.t.sessions)
            .where(*conditions)
            .values(expires_at=expires_at, updated_at=now())
            .returning(c.token_hash)
        )
        return next((row.token_hash for row in await conn.execute(statement)), None)

    async def exists(self, conn: Connection, session_id: str) -> bool:
        c = self.t.sessions.c
        return bool((await conn.execute(select(c.id).where(c.id == session_id))).all())

    async def get(self, conn: Connection, session_id: str) -> Session | None:
        found = await self._read(conn, self._by_id, {"session_id": session_id})
        return found[0] if found else None

    async def get_by_token_hash(self, conn: Connection, digest: str) -> Session | None:
        found = await self._read(conn, self._by_token_hash, {"session_token_hash": digest})
        return found[0] if found else None

    async def page(
        self,
        conn: Connection,
        *,
        size: int,
        after: str | None,
        identity_id: str | None = None,
        active: bool | None = None,
        exclude_id: str | None = None,
        used_since: datetime | None = None,
    ) -> list[Session]:
        """`active`: valid ones (or not), used since `used_since` where an inactivity timeout is kept."""
        c = self.t.sessions.c
        conditions = []
        if identity_id is not None:
            conditions.append(c.identity_id == identity_id)
        if active is not None:
            valid = and_(c.active.is_(True), c.expires_at > now())
            if used_since is not None:  # the later of the two is the last use (Session.last_active)
                valid = and_(valid, or_(c.active_at > used_since, c.authenticated_at > used_since))
            conditions.append(valid if active else ~valid)
        if exclude_id is not None:
            conditions.append(c.id != exclude_id)
        if after:
            conditions.append(c.id > after)
        return await self._select(conn, *conditions, limit=size)

    async def active_of_identity(
        self, conn: Connection, identity_id: str, except_id: str | None = None
    ) -> list[Session]:
        c = self.t.sessions.c
        conditions = [c.identity_id == identity_id, c.active.is_(True)]
        if except_id is not None:
            conditions.append(c.id != except_id)
        return await self._select(conn, *conditions)

    async def record_use(self, conn: Connection, digest: str, at: datetime) -> None:
        """A use of the session with this token hash, if it is still active (a use never revives one)."""
        await conn.execute(self._record_use, {"digest": digest, "at": at})

    async def deactivate(self, conn: Connection, ids: Sequence[str]) -> list[str]:
        """Deactivates those of `ids` still active; returns them (another request may have been first)."""
        if not ids:
            return []
        c = self.t.sessions.c
        statement = (
            update(self.t.sessions)
            .where(c.id.in_(list(ids)), c.active.is_(True))
            .values(active=False, updated_at=now())
            .returning(c.id)
        )
        return [row.id for row in await conn.execute(statement)]

    async def delete_of_identity(self, conn: Connection, identity_id: str) -> list[str]:
        """Deletes an identity's sessions; returns their token hashes (to drop from the cache)."""
        c = self.t.sessions.c
        rows = (await conn.execute(select(c.id, c.token_hash).where(c.identity_id == identity_id))).all()
        ids = [r.id for r in rows]
        if ids:
            await conn.execute(delete(self.t.devices).where(self.t.devices.c.session_id.in_(ids)))
            await conn.execute(delete(self.t.sessions).where(c.id.in_(ids)))
        return [r.token_hash for r in rows]

    async def delete_expired(self, conn: Connection, before: datetime, batch: int) -> int:
        """Deletes up to `batch` sessions that expired before `before`, with their devices."""
        c = self.t.sessions.c
        ids = [r.id for r in await conn.execute(select(c.id).where(c.expires_at < before).limit(batch))]
        if ids:
            await conn.execute(delete(self.t.devices).where(self.t.devices.c.session_id.in_(ids)))
            await conn.execute(delete(self.t.sessions).where(c.id.in_(ids)))
        return len(ids)

    async def _insert_devices(self, conn: Connection, session: Session) -> None:
        if session.devices:
            await conn.execute(insert(self.t.devices), _device_rows(session))

    async def _select(self, conn: Connection, *conditions: Any, limit: int | None = None) -> list[Session]:
        return await self._read(conn, self._with_devices(*conditions, limit=limit))

    def _with_devices(self, *conditions: Any, limit: int | None = None) -> Select[Any]:
        """Sessions with their devices in one query: the sessions (limited, if a page) joined to
        their few devices (a session has one per sign-in place), so a whoami that misses the cache
        costs one round trip here."""
        sessions, devices = self.t.sessions, self.t.devices
        chosen = select(sessions).where(*conditions).order_by(sessions.c.id)
        if limit is not None:
            chosen = chosen.limit(limit)
        page = chosen.subquery("s")
        return (
            select(
                page,
                devices.c.id.label("device_id"),
                devices.c.ip_address,
                devices.c.user_agent,
                devices.c.location,
            )
            .select_from(page.outerjoin(devices, devices.c.session_id == page.c.id))
            .order_by(page.c.id)
        )

    async def _read(self, conn: Connection, query: Select[Any], values: dict[str, Any] | None = None) -> list[Session]:
        found: dict[str, tuple[Row[Any], list[Device]]] = {}
        for row in await conn.execute(query, values):
            _, of_session = found.setdefault(row.id, (row, []))
            if row.device_id is not None:
                of_session.append(Device(row.ip_address, row.user_agent, row.location, row.device_id))
        return [_session(row, of_session) for row, of_session in found.values()]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


SESSION_COLUMNS = (
    "id",
    "token_hash",
    "identity_id",
    "active",
    "expires_at",
    "authenticated_at",
    "issued_at",
    "authentication_methods",
    "created_at",
    "updated_at",
    "active_at",
)
DEVICE_COLUMNS = ("id", "session_id", "ip_address", "user_agent", "location")


def _device_rows(session: Session) -> list[dict[str, Any]]:
    return [
        {
            "id": d.id,
            "session_id": session.id,
            "ip_address": d.ip_address,
            "user_agent": d.user_agent,
            "location": d.location,
        }
        for d in session.devices
    ]


def _method_row(m: AuthenticationMethod) -> dict[str, Any]:
    row: dict[str, Any] = {
        "method": m.method,
        "aal": m.aal,
        "completed_at": m.completed_at.isoformat(),
        "provider": m.provider,
    }
    if m.upstream_acr is not None:
        row["upstream_acr"] = m.upstream_acr
    if m.upstream_amr is not None:
        row["upstream_amr"] = list(m.upstream_amr)
    return row


def _method(m: dict[str, Any]) -> AuthenticationMethod:
    amr = m.get("upstream_amr")
    return AuthenticationMethod(
        m["method"],
        m["aal"],
        datetime.fromisoformat(m["completed_at"]),
        m.get("provider"),
        m.get("upstream_acr"),
        tuple(amr) if amr is not None else None,
    )


def _row(session: Session) -> dict[str, Any]:
    methods = [_method_row(m) for m in session.authentication_methods]
    return {
        "id": session.id,
        "token_hash": session.token_hash,
        "identity_id": session.identity_id,
        "active": session.active,
        "expires_at": session.expires_at,
        "authenticated_at": session.authenticated_at,
        "issued_at": session.issued_at,
        "authentication_methods": json.dumps(methods),
        "created_at": session.created_at,
        "updated_at": session.updated_at,
        "active_at": session.active_at,
    }


def _session(row: Row[Any], devices: list[Device]) -> Session:
    methods = tuple(_method(m) for m in json.loads(row.authentication_methods))
    return Session(
        identity_id=row.identity_id,
        token_hash=row.token_hash,
        expires_at=_utc(row.expires_at),
        authentication_methods=methods,
        devices=tuple(devices),
        active=row.active,
        id=row.id,
        authenticated_at=_utc(row.authenticated_at),
        issued_at=_utc(row.issued_at),
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
        active_at=_utc(row.active_at) if row.active_at is not None else None,
    )
