"""One database, shared by every service of a process that uses the same DSN.

Statements run on the driver directly, built and compiled by SQLAlchemy all the same: asyncpg for
PostgreSQL (shared/storage/postgres.py), sqlite3 on a thread of its own for SQLite
(shared/storage/sqlite.py). SQLAlchemy's engine is there for Alembic (`sqlalchemy_connection`) and
for the dialect that compiles.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from shared.storage.connection import Connection
from shared.storage.dsn import DatabaseUrl, parse_dsn
from shared.storage.postgres import PostgresPool, RoundTripListener
from shared.storage.sqlite import PRAGMAS, SqliteConnection, SqliteRunner


class Database:
    def __init__(self, url: DatabaseUrl) -> None:
        self.url = url
        # An in-memory database is a named one in SQLite's shared cache, so that the engine (Alembic)
        # and the connection statements run on see the same one; it lives while either is open.
        memory = f"file:warden-{uuid.uuid4().hex}?mode=memory&cache=shared" if url.in_memory else None
        self.engine: AsyncEngine = _create_engine(url, memory)
        # SQLite takes one writer at a time, on one connection: queueing transactions here avoids
        # "database is locked" and interleaved statements.
        self._serial = asyncio.Lock() if url.dialect == "sqlite" else None
        # Told of each message sent to the database before it goes: on PostgreSQL BEGIN, each
        # statement's SQL, COMMIT, ROLLBACK; on SQLite each hop to its thread, with what it carries.
        self.round_trips: list[RoundTripListener] = []
        self._postgres = (
            PostgresPool(
                url.url,
                url.connect_args,
                _max_connections(url),
                self.engine.dialect,
                self.round_trips,
                lossable_commits=not url.cockroach,
            )
            if url.dialect == "postgresql"
            else None
        )
        self._sqlite = (
            SqliteRunner(*_sqlite_file(self.engine), self.engine.dialect, self.round_trips)
            if url.dialect == "sqlite"
            else None
        )
        self._dialect_ready = False

    @classmethod
    def from_dsn(cls, dsn: str) -> Database:
        return cls(parse_dsn(dsn))

    @property
    def dialect(self) -> str:
        return self.url.dialect

    def connect(self, *, durable: bool = True) -> contextlib.AbstractAsyncContextManager[Connection]:
        """A connection for one transaction, begun at its first statement; the caller commits or
        rolls back (leaving without either rolls back). `durable=False`: for writes whose loss in a
        crash of the database server costs nothing, which then need not wait for the disk
        (shared/storage/postgres.py says which and how; SQLite's commits never wait for it)."""
        return self._connection(autocommit=False, durable=durable)

    def read(self, *, durable: bool = True) -> contextlib.AbstractAsyncContextManager[Connection]:
        """A connection for reads that need no snapshot across statements, or for one write that
        stands alone: each statement commits by itself, so the database is asked nothing but the
        statements (a transaction would add a BEGIN and a ROLLBACK: two round trips to PostgreSQL).
        `durable`: as for `connect`."""
        return self._connection(autocommit=True, durable=durable)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """Commits when the block ends normally, rolls back when it raises."""
        async with self.connect() as conn:
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(Exception):  # the block's error is the one to see
                    await conn.rollback()
                raise
            await conn.commit()

    @contextlib.asynccontextmanager
    async def sqlalchemy_connection(self) -> AsyncIterator[AsyncConnection]:
        """SQLAlchemy's own connection, for what needs it (Alembic, `run_sync`)."""
        async with contextlib.AsyncExitStack() as stack:
            if self._serial is not None:
                await stack.enter_async_context(self._serial)
            yield await stack.enter_async_context(self.engine.connect())

    async def ping(self) -> bool:
        try:
            async with self.read() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        if self._postgres is not None:
            await self._postgres.close()
        if self._sqlite is not None:
            await self._sqlite.close()
        await self.engine.dispose()

    @contextlib.asynccontextmanager
    async def _connection(self, autocommit: bool, durable: bool) -> AsyncIterator[Any]:
        if self._postgres is not None:
            if not self._dialect_ready:
                # The dialect learns the server's version and settings at its first connection, and
                # compiles accordingly: let it have one before it compiles for asyncpg (and close it:
                # the engine's pool is not the one statements use).
                async with self.engine.connect():
                    self._dialect_ready = True
                await self.engine.dispose()
            conn = await self._postgres.acquire(autocommit, durable)
            try:
                yield conn
            finally:
                try:
                    if conn.in_transaction:  # left open: rolled back (a broken connection is let go)
                        with contextlib.suppress(Exception):
                            await conn.rollback()
                finally:  # given back even when the rollback itself is cancelled
                    self._postgres.release(conn)
            return
        assert self._sqlite is not None and self._serial is not None
        async with self._serial:
            sqlite = SqliteConnection(self._sqlite, autocommit)
            try:
                yield sqlite
            finally:
                if sqlite.in_transaction:  # left open: rolled back
                    with contextlib.suppress(Exception):
                        await sqlite.rollback()


def _max_connections(url: DatabaseUrl) -> int:
    """The most connections a process keeps to PostgreSQL: the DSN's `max_conns` (Kratos's), a limit
    an operator sizes the server's `max_connections` by; else 20, what SQLAlchemy's pool allowed
    (10 and an overflow of 10)."""
    configured = url.engine_options.get("pool_size")
    return int(configured) if configured is not None else 20


def _sqlite_file(engine: AsyncEngine) -> tuple[str, bool]:
    """The file (or URI, and whether it is one) that the engine opens for Alembic, as its dialect
    reads the URL: the statements' connection must open that same database. SQLAlchemy decodes the
    URL's escapes (a DSN's `%20` is a space in the file's name) and makes a relative path absolute."""
    (filename, *_), options = engine.dialect.create_connect_args(engine.url)
    return filename, bool(options.get("uri", False))


def _create_engine(url: DatabaseUrl, memory: str | None) -> AsyncEngine:
    options: dict[str, Any] = dict(url.engine_options)
    name = url.url
    if memory is not None:
        name = f"sqlite+aiosqlite:///{memory}&uri=true"
        options.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    elif url.dialect == "postgresql":
        # The size is also that of the asyncpg pool statements run on (shared/storage/postgres.py).
        options.setdefault("pool_size", 10)
        # No pre-ping: it costs a round trip per checkout. A connection the server dropped fails one
        # statement, SQLAlchemy then discards the whole pool, and the next attempt reconnects. (The
        # asyncpg pool finds a dropped connection closed at the next checkout and replaces it.)
        options.update(pool_recycle=1800, connect_args=dict(url.connect_args))
    # hide_parameters: a failing statement's error message would otherwise carry its bound values
    # (identifiers, token hashes, flow bodies, the outbox's courier codes) into the log.
    engine = create_async_engine(name, hide_parameters=True, **options)
    if url.dialect == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in PRAGMAS:
        cursor.execute(pragma)
    cursor.close()
