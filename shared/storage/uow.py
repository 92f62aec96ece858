"""The unit of work owns the transaction and the events the change raised.

    async with uow_factory() as uow:
        await repo.save(uow.connection, thing)
        uow.emit(IDENTITY_CREATED, IdentityCreated(identity_id=..., schema_id=..., state=...))
        await uow.commit()

Leaving the block without `commit()` rolls back, and the emitted events vanish with the change.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any

from sqlalchemy.sql.expression import Executable

from shared.bus.envelope import Envelope
from shared.bus.events import EventType, P
from shared.bus.outbox import Outbox
from shared.storage.connection import Connection
from shared.storage.database import Database
from shared.storage.postgres import PgConnection
from shared.storage.sqlite import SqliteConnection


class UnitOfWork:
    def __init__(self, database: Database, outbox: Outbox, source: str, durable: bool = True) -> None:
        self._db = database
        self._outbox = outbox
        self._source = source
        self._durable = durable
        self._stack = contextlib.AsyncExitStack()
        self._conn: Connection | None = None
        self._used = False  # a statement may have run on the connection: its transaction is open
        self._writes: list[Write] = []
        self._events: list[Envelope] = []
        self._committed: list[Callable[[], None]] = []
        self._closed: list[Callable[[], Awaitable[None]]] = []
        self._done = False

    @property
    def connection(self) -> Connection:
        """The transaction's connection (the transaction begins at its first statement)."""
        if self._conn is None:
            raise RuntimeError("the unit of work is used outside its `async with` block")
        self._used = True
        return self._conn

    def write(self, statement: Executable, params: Mapping[str, Any] | None = None) -> None:
        """A change whose result nobody reads (an INSERT, an UPDATE): it is sent at the commit, with
        the others and the events. When nothing else ran in the unit of work, PostgreSQL gets all of
        them as one statement (the others as data-modifying CTEs): one round trip, atomic by itself,
        instead of a BEGIN, one per change, one for the events and a COMMIT. `params`: the values of
        a statement built once (shared/storage/prebuilt.py)."""
        if self._conn is None or self._done:
            raise RuntimeError("write outside an open unit of work")
        self._writes.append((statement, params or {}))

    def after_commit(self, callback: Callable[[], None]) -> None:
        """`callback` runs once the change is committed, and never if it rolls back (for counts of
        what was really stored)."""
        self._committed.append(callback)

    def after_close(self, callback: Callable[[], Awaitable[None]]) -> None:
        """`callback` is awaited once the change is committed and the connection is given back (and
        never if it rolls back): for a call to another service, which must not hold a pooled
        connection, nor SQLite's one writer, while it waits. It must not raise."""
        self._closed.append(callback)

    def emit(self, event: EventType[P], payload: P) -> Envelope:
        """Raises one of the catalogue's events (shared/bus/events.py) with this change."""
        return self.emit_raw(event.name, event.data(payload))

    def emit_raw(self, event_type: str, data: dict[str, Any]) -> Envelope:
        """An envelope as given: for what passes events on unread (replays, tests of the bus)."""
        if not self._durable:
            raise RuntimeError("an event must not go with a change that a crash may lose (durable=False)")
        envelope = Envelope(type=event_type, source=self._source, data=data)
        self._events.append(envelope)
        return envelope

    async def commit(self) -> None:
        if self._conn is None or self._done:
            raise RuntimeError("commit outside an open unit of work")
        writes = list(self._writes)
        if self._events:
            writes.append(self._outbox.statement(self._events))
        # PostgreSQL (asyncpg directly): the writes as one statement that commits by itself.
        direct = self._conn if isinstance(self._conn, PgConnection) else None
        one = _as_one(writes) if direct is not None and not self._used and writes else None
        if direct is not None and one is not None:
            await direct.autocommit().execute(one[0], one[1] or None)
        elif isinstance(self._conn, SqliteConnection):  # the writes and the COMMIT: one hop to its thread
            await self._conn.commit_with(writes)
        else:
            for statement, params in writes:
                await self._conn.execute(statement, params or None)
            await self._conn.commit()
        self._done = True
        if self._events:
            self._outbox.notify()
        for callback in self._committed:
            callback()

    async def __aenter__(self) -> UnitOfWork:
        self._conn = await self._stack.enter_async_context(self._db.connect(durable=self._durable))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if not self._done:
                self._writes.clear()
                self._events.clear()
                if self._used and self._conn is not None:
                    await self._conn.rollback()
        finally:
            self._conn = None
            await self._stack.aclose()
        if self._done:
            for callback in self._closed:
                await callback()


# A statement and the values of its bind parameters (empty when its values are inside it).
Write = tuple[Executable, Mapping[str, Any]]


def _as_one(writes: list[Write]) -> Write | None:
    """The last statement, with the ones before it as data-modifying CTEs (PostgreSQL and
    CockroachDB run them all, on one snapshot, or none), and their parameters together. Only
    changes that do not touch the same rows go together: a unit of work's writes are to different
    rows (a new session and its devices, a flow and its event). None when two statements' parameters
    share a name (one statement built once, written twice): those go one by one in a transaction."""
    if len(writes) == 1:
        return writes[0]
    params: dict[str, Any] = {}
    for _, values in writes:
        if params.keys() & values.keys():
            return None
        params.update(values)
    return _combined(tuple(statement for statement, _ in writes)), params


@functools.lru_cache(maxsize=256)
def _combined(statements: tuple[Executable, ...]) -> Executable:
    """Cached on the statements themselves (compared by identity): statements built once combine
    into the same statement every time, and SQLAlchemy finds its cache key already computed."""
    *before, last = statements
    combined: Executable = last.add_cte(*(s.cte(f"w{i}") for i, s in enumerate(before)))  # type: ignore[attr-defined]
    return combined


class UnitOfWorkFactory:
    """What handlers receive: calling it opens a fresh unit of work on the service's database."""

    def __init__(self, database: Database, outbox: Outbox, source: str) -> None:
        self.database = database
        self.outbox = outbox
        self.source = source

    def __call__(self, *, durable: bool = True) -> UnitOfWork:
        """`durable=False`: a change whose loss in a crash of the database server costs nothing (a
        flow just opened), which then need not wait for the disk (shared/storage/postgres.py). Never
        for one that raises an event: the event would be lost with it."""
        return UnitOfWork(self.database, self.outbox, self.source, durable)

    def read(self, *, durable: bool = True) -> contextlib.AbstractAsyncContextManager[Connection]:
        """A connection outside any transaction, for reads (and lone writes) that raise no event.
        `durable`: as for a unit of work."""
        return self.database.read(durable=durable)
