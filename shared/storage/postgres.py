"""SQLAlchemy Core statements run on asyncpg directly, for PostgreSQL.

SQLAlchemy's execution layer (a pool checkout, a greenlet hop, an execution context and a cursor
result around each statement, the isolation level set and reset at each checkout) cost some
300-400 µs of CPU per transaction and 120 µs per statement over asyncpg's own work: under login
load, a quarter of the event loop. Here each statement is still built with SQLAlchemy Core and
compiled by SQLAlchemy's asyncpg dialect, once per shape (the compiled form is cached on the
statement's cache key, as SQLAlchemy itself does); its SQL and the order of its parameters are then
handed to an asyncpg connection of our own pool (pg_pool.py), whose statement cache prepares it
once per connection. Transactions are asyncpg's, begun at a connection's first statement as SQLAlchemy
begins them, and never for a connection in autocommit.

Errors come out as SQLAlchemy's (`IntegrityError`, `OperationalError`, `InterfaceError`, ...), with
the statement and never its values. A connection the server dropped is found closed by the pool at
the next checkout and replaced. Every message sent to the database (BEGIN, a statement, COMMIT,
ROLLBACK) is told to `Database.round_trips`' listeners first (tests/round_trips.py counts them).

Writes whose loss in a crash of the database server costs nothing (`durable=False`: a flow a visitor
has just opened, a flow shown again after a refused submission or a step, the password throttle's
counts) go over connections of their own, opened with
`synchronous_commit = off`: PostgreSQL answers their commit before its WAL reaches the disk, so
they do not wait for an fsync, nor pay for one (about 80 µs of the server's CPU and 200 µs of wall
time each, measured on this project's machine). They are visible to every reader at once, as any
commit is; a crash of the server may lose the last few hundred milliseconds of them, never leave
them half done, and the next durable commit flushes them with its own. Everything else (identities,
sessions, flows as they complete, events) commits durably. Those connections are a quarter of
`max_conns` (the total stays `max_conns`); below 4, or on CockroachDB (which has no such setting),
there are none and `durable=False` changes nothing. The setting is a startup parameter of those
connections, which a pooler in front of PostgreSQL may refuse (PgBouncer does, unless its
`ignore_startup_parameters` lists it, and then ignores it): at the first refusal a warning says so
and those writes go over the durable connections from then on (a quarter of `max_conns` then
stays unused).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from types import SimpleNamespace
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import Float
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.engine.result import SimpleResultMetaData
from sqlalchemy.sql.expression import Executable
from sqlalchemy.sql.sqltypes import NumericCommon
from sqlalchemy.util import LRUCache

from shared.storage.compiled import EMPTY, Shapes, StatementResult, bound, executions
from shared.storage.pg_pool import ConnectionPool

log = logging.getLogger(__name__)

RoundTripListener = Callable[[str], None]
# How a statement sent over a connection that commits without waiting for the disk is told to the
# round-trip listeners (an SQL comment before it), so that tests can see which writes go there.
LOSSABLE = "/* lossable */ "
_T = TypeVar("_T")


_FLOAT8, _NUMERIC = 701, 1700  # PostgreSQL's type OIDs


class PostgresPool:
    def __init__(
        self,
        url: str,
        connect_args: Mapping[str, Any],
        size: int,
        dialect: Dialect,
        round_trips: list[RoundTripListener],
        *,
        lossable_commits: bool = True,
    ) -> None:
        self.dialect = dialect
        self.round_trips = round_trips
        # The dialect's own connect arguments (host, port, user, ... from the URL), then ours.
        _, options = dialect.create_connect_args(make_url(url))
        options.pop("prepared_statement_cache_size", None)
        options.update(connect_args)
        lossable = size // 4 if lossable_commits and size > 1 else 0
        self._connections = ConnectionPool(options, size - lossable, self._json_codecs)
        self._lossable_pool = ConnectionPool(_committing_without_flush(options), lossable, self._json_codecs)
        # Where `durable=False` connections come from: the durable ones when there are none of their
        # own, or once the setting is refused (`_give_up_lossable`).
        self._lossable = self._lossable_pool if lossable else self._connections
        self.shapes = Shapes(dialect, _result_processor)
        # Whether a text() statement returns rows, by its SQL, as PostgreSQL answered it once.
        self.text_returns_rows: LRUCache[str, bool] = LRUCache(500)

    async def acquire(self, autocommit: bool, durable: bool = True) -> PgConnection:
        """`durable=False`: a connection whose commits may be lost in a crash of the server (above)."""
        source = self._connections if durable else self._lossable
        try:
            raw = await source.acquire()
        except asyncpg.PostgresError as exc:
            if source is self._connections or _SETTING not in str(exc):
                raise _translated(exc, "") from exc
            self._give_up_lossable(exc)
            return await self.acquire(autocommit)
        except (OSError, asyncpg.InterfaceError) as exc:
            raise _translated(exc, "") from exc
        return PgConnection(self, raw, autocommit, source, "" if source is self._connections else LOSSABLE)

    def _give_up_lossable(self, refusal: asyncpg.PostgresError) -> None:
        """The server, or a pooler before it, refuses the setting: the writes that could have done
        without the disk wait for it, as every other write does."""
        if self._lossable is self._connections:
            return
        log.warning(
            "PostgreSQL, or a pooler in front of it, refuses the %s startup parameter (%s): flows just "
            "opened and the password throttle's counts commit durably, as every other write (with "
            "PgBouncer, list it in ignore_startup_parameters to silence this)",
            _SETTING,
            refusal,
        )
        self._lossable = self._connections

    def release(self, conn: PgConnection) -> None:
        conn.source.release(conn.raw, reusable=not conn.interrupted)

    async def close(self) -> None:
        await self._connections.close()
        await self._lossable_pool.close()

    async def _json_codecs(self, raw: asyncpg.Connection) -> None:
        """JSON and JSONB as SQLAlchemy's asyncpg dialect sets them on its connections (it leaves the
        decoding of JSON columns to asyncpg)."""
        adapted = SimpleNamespace(_connection=raw)
        await self.dialect.setup_asyncpg_json_codec(adapted)  # type: ignore[attr-defined]
        await self.dialect.setup_asyncpg_jsonb_codec(adapted)  # type: ignore[attr-defined]


_SETTING = "synchronous_commit"


def _committing_without_flush(options: Mapping[str, Any]) -> dict[str, Any]:
    settings = {**options.get("server_settings", {}), _SETTING: "off"}
    return {**options, "server_settings": settings}


def _result_processor(type_: Any, dialect: Dialect) -> Any:
    """What SQLAlchemy does to a value of this column as it comes back. Numeric types decide by the
    PostgreSQL type of the column, which SQLAlchemy reads from the cursor: here it is the type they
    stand for (double precision for a Float, numeric for a Numeric)."""
    coltype = None
    if isinstance(type_, NumericCommon):
        coltype = _FLOAT8 if isinstance(type_, Float) else _NUMERIC
    return type_._cached_result_processor(dialect, coltype)


class PgConnection:
    """One pooled asyncpg connection, for one transaction (or, in autocommit, for statements that
    each commit by themselves)."""

    def __init__(
        self, pool: PostgresPool, raw: asyncpg.Connection, autocommit: bool, source: ConnectionPool, mark: str = ""
    ) -> None:
        self.raw = raw
        self.source = source  # the pool it goes back to
        self._mark = mark  # LOSSABLE on a connection that commits without waiting for the disk
        self._pool = pool
        self._autocommit = autocommit
        self._transaction: Any = None  # asyncpg's, begun at the first statement
        # An exchange with the server did not finish (cancelled part-way, or a BEGIN that failed):
        # whether a transaction is open, or asyncpg is still cancelling a statement, is unknown,
        # so the pool must not hand this connection out again.
        self.interrupted = False

    @property
    def in_transaction(self) -> bool:
        return self._transaction is not None

    @property
    def dialect(self) -> Dialect:
        return self._pool.dialect

    def autocommit(self) -> PgConnection:
        """From now on each statement commits by itself (before any statement ran)."""
        if self._transaction is not None:
            raise RuntimeError("a transaction is already open on this connection")
        self._autocommit = True
        return self

    async def execute(self, statement: Executable, parameters: Any = None) -> StatementResult:
        rows = executions(parameters)
        many = len(rows) > 1
        shape, extracted, collected = self._pool.shapes.shape(statement, rows[0], many)
        sql, args = bound(shape, rows, extracted, collected)
        if not self._autocommit and self._transaction is None:
            await self._begin()
        for listener in self._pool.round_trips:
            listener(self._mark + sql)
        if many:
            await self._exchange(sql, self.raw.executemany(sql, args))
            return StatementResult(shape.metadata or EMPTY, (), -1)
        returns_rows = shape.returns_rows
        if returns_rows is None:
            returns_rows = self._pool.text_returns_rows.get(sql)
            if returns_rows is None:
                return await self._first_text(sql, args[0])
        if returns_rows:
            records = await self._exchange(sql, self.raw.fetch(sql, *args[0]))
            metadata = shape.metadata or SimpleResultMetaData(list(records[0].keys()) if records else [])
            return StatementResult(metadata, records, len(records))
        status = await self._exchange(sql, self.raw.execute(sql, *args[0]))
        return StatementResult(EMPTY, (), _rowcount(status))

    async def _first_text(self, sql: str, args: list[Any]) -> StatementResult:
        """A text() statement the process has not run yet: whether it returns rows is PostgreSQL's to
        say. `fetch` would not give a write's count, `execute` would drop a query's rows; so it is
        prepared (the round trip asyncpg's `fetch` makes anyway for a statement new to its
        connection), whose columns tell, and run on that prepared statement, whose status gives
        the count. From then on the answer is known by the SQL, and the statement goes to `fetch`
        or `execute` with no question asked."""
        prepared = await self._exchange(sql, self.raw.prepare(sql))
        records = await self._exchange(sql, prepared.fetch(*args))
        columns = [attribute.name for attribute in prepared.get_attributes()]
        self._pool.text_returns_rows[sql] = bool(columns)
        if not columns:
            return StatementResult(EMPTY, (), _rowcount(prepared.get_statusmsg()))
        return StatementResult(SimpleResultMetaData(columns), records, len(records))

    async def _exchange(self, sql: str, sent: Awaitable[_T]) -> _T:
        """One statement's round trip; an error the server answered leaves the connection usable,
        a cancellation part-way does not (see `interrupted`)."""
        self.interrupted = True
        try:
            answer = await sent
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            self.interrupted = False
            raise _translated(exc, sql) from exc
        self.interrupted = False
        return answer

    async def commit(self) -> None:
        await self._end("COMMIT")

    async def rollback(self) -> None:
        await self._end("ROLLBACK")

    async def _begin(self) -> None:
        for listener in self._pool.round_trips:
            listener("BEGIN")
        transaction = self.raw.transaction()
        # asyncpg marks the connection as in its transaction before BEGIN is answered, and a
        # failed or cancelled BEGIN leaves that mark: the next transaction on the connection would
        # be a SAVEPOINT inside it, its COMMIT a RELEASE that commits nothing. Such a connection
        # stays `interrupted` and is never reused.
        self.interrupted = True
        try:
            await transaction.start()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise _translated(exc, "BEGIN") from exc
        self.interrupted = False
        self._transaction = transaction

    async def _end(self, how: str) -> None:
        transaction, self._transaction = self._transaction, None
        if transaction is None:
            return
        for listener in self._pool.round_trips:
            listener(how)
        await self._exchange(how, transaction.commit() if how == "COMMIT" else transaction.rollback())


def _rowcount(status: str) -> int:
    """`UPDATE 3`, `DELETE 0`, `INSERT 0 1`: the count is the last word."""
    last = status.rpartition(" ")[2]
    return int(last) if last.isdigit() else -1


def _translated(exc: BaseException, sql: str) -> sa_exc.DBAPIError:
    """asyncpg's error as the SQLAlchemy error that callers (and the HTTP middleware) expect; the
    statement is kept, its values are not (as the engine's hide_parameters=True does)."""
    kind: type[sa_exc.DBAPIError]
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        kind = sa_exc.IntegrityError
    elif isinstance(exc, asyncpg.InterfaceError):  # among them: the connection is closed
        kind = sa_exc.InterfaceError
    elif isinstance(
        exc,
        OSError | asyncpg.PostgresConnectionError | asyncpg.CannotConnectNowError | asyncpg.OperatorInterventionError,
    ):
        kind = sa_exc.OperationalError
    elif isinstance(exc, asyncpg.DataError):
        kind = sa_exc.DataError
    elif isinstance(exc, asyncpg.SyntaxOrAccessError):
        kind = sa_exc.ProgrammingError
    else:
        kind = sa_exc.DatabaseError
    return kind(sql, None, exc, hide_parameters=True)
