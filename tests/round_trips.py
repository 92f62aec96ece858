"""Counts the database round trips a request costs, on every database of a running Warden.

A round trip is what makes the request wait for its database. On PostgreSQL, statements go to
asyncpg without SQLAlchemy's execution layer (shared/storage/postgres.py), which tells
`Database.round_trips`' listeners of each message right where it hands it to asyncpg: BEGIN before a
transaction's first statement, each statement, the COMMIT or ROLLBACK of a transaction that began;
nothing for a connection in autocommit but its statements. On SQLite (shared/storage/sqlite.py) the
listeners hear of each call the request waits for on SQLite's thread, with the SQL it carries (a
BEGIN goes with a statement, a unit of work's writes with their COMMIT). Anything that would go
through SQLAlchemy's engine instead is counted from SQLAlchemy's events.

Only what the request's own task does is counted (aiohttp runs each request in a task of its own):
the outbox relays, the bus consumers and the cache repairs run in tasks of their own and are not
the request's cost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection

from shared.storage.database import Database

_REQUEST_HANDLER = "RequestHandler._handle_request"


def _in_a_request() -> bool:
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return False
    return task is not None and getattr(task.get_coro(), "__qualname__", "") == _REQUEST_HANDLER


def _autocommit(conn: Connection) -> bool:
    return conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


class RoundTrips:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self._open: set[int] = set()  # connections whose transaction has sent its BEGIN
        self.counting = False

    def __len__(self) -> int:
        return len(self.calls)

    def report(self) -> str:
        return "\n".join(f"  {i + 1:2}. {call}" for i, call in enumerate(self.calls))

    def _statement(self, conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if not (self.counting and _in_a_request()):
            return
        if not _autocommit(conn) and id(conn) not in self._open:
            self._open.add(id(conn))
            if conn.dialect.name != "sqlite":
                self.calls.append("BEGIN")
        self.calls.append(" ".join(statement.split())[:140])

    def _end(self, name: str) -> Any:
        def listener(conn: Connection) -> None:
            if id(conn) in self._open:
                self._open.discard(id(conn))
                if self.counting and _in_a_request():
                    self.calls.append(name)

        return listener

    def _sent(self, message: str) -> None:
        if self.counting and _in_a_request():
            self.calls.append(" ".join(message.split())[:140])

    @contextmanager
    def attached(self, databases: Sequence[Database]) -> Iterator[RoundTrips]:
        """Listens to each database, and on the sync engine under its AsyncEngine, while the block runs."""
        listeners = [
            ("before_cursor_execute", self._statement),
            ("commit", self._end("COMMIT")),
            ("rollback", self._end("ROLLBACK")),
        ]
        for database in databases:
            database.round_trips.append(self._sent)
            for name, fn in listeners:
                event.listen(database.engine.sync_engine, name, fn)
        try:
            yield self
        finally:
            for database in databases:
                database.round_trips.remove(self._sent)
                for name, fn in listeners:
                    event.remove(database.engine.sync_engine, name, fn)

    @contextmanager
    def counted(self) -> Iterator[RoundTrips]:
        """Counts (afresh) what requests made while the block runs cost."""
        self.calls.clear()
        self.counting = True
        try:
            yield self
        finally:
            self.counting = False
