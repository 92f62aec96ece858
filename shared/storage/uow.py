"""The unit of work owns the transaction and the events the change raised.

    async with uow_factory() as uow:
        await repo.save(uow.connection, thing)
        uow.emit(IDENTITY_CREATED, IdentityCreated(identity_id=..., schema_id=..., state=...))
        await uow.commit()

Leaving the block without `commit()` rolls back, and the emitted events vanish with the change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncTransaction

from shared.bus.envelope import Envelope
from shared.bus.events import EventType, P
from shared.bus.outbox import Outbox
from shared.storage.database import Database


class UnitOfWork:
    def __init__(self, database: Database, outbox: Outbox, source: str) -> None:
        self._db = database
        self._outbox = outbox
        self._source = source
        self._stack = contextlib.AsyncExitStack()
        self._conn: AsyncConnection | None = None
        self._tx: AsyncTransaction | None = None
        self._events: list[Envelope] = []
        self._committed: list[Callable[[], None]] = []
        self._done = False

    @property
    def connection(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("the unit of work is used outside its `async with` block")
        return self._conn

    def emit(self, event: EventType[P], payload: P) -> Envelope:
        """Raises one of the catalogue's events (shared/bus/events.py) with this change."""
        return self.emit_raw(event.name, event.data(payload))

    def emit_raw(self, event_type: str, data: dict[str, Any]) -> Envelope:
        """An envelope as given: for what passes events on unread (replays, tests of the bus)."""
        envelope = Envelope(type=event_type, source=self._source, data=data)
        self._events.append(envelope)
        return envelope

    def after_commit(self, callback: Callable[[], None]) -> None:
        """`callback` runs once the change is committed, and never if it rolls back (for counts of
        what was really stored)."""
        self._committed.append(callback)

    async def commit(self) -> None:
        if self._tx is None or self._done:
            raise RuntimeError("commit outside an open unit of work")
        if self._events:
            await self._outbox.add(self.connection, self._events)
        await self._tx.commit()
        self._done = True
        if self._events:
            self._outbox.notify()
        for callback in self._committed:
            callback()

    async def __aenter__(self) -> UnitOfWork:
        self._conn = await self._stack.enter_async_context(self._db.connect())
        self._tx = await self._conn.begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if not self._done and self._tx is not None:
                await self._tx.rollback()
                self._events.clear()
        finally:
            self._conn = None
            await self._stack.aclose()


class UnitOfWorkFactory:
    """What handlers receive: calling it opens a fresh unit of work on the service's database."""

    def __init__(self, database: Database, outbox: Outbox, source: str) -> None:
        self.database = database
        self.outbox = outbox
        self.source = source

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self.database, self.outbox, self.source)

    def read(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A connection outside any transaction, for reads (and lone writes) that raise no event."""
        return self.database.read()
