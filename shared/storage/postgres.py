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
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, TypeVar
from weakref import ref

import asyncpg
from sqlalchemy import Float
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import Executable
from sqlalchemy.sql.sqltypes import NumericCommon
from sqlalchemy.util import LRUCache

from shared.storage.pg_pool import ConnectionPool

RoundTripListener = Callable[[str], None]
_T = TypeVar("_T")


@dataclass(frozen=True)
class _Shape:
    """A statement compiled for asyncpg: what is sent, and what comes back."""

    compiled: SQLCompiler
    expands: bool  # `IN` of a list, rendered per execution
    returns_rows: bool
    metadata: SimpleResultMetaData | None  # None: the columns are known only from the rows (text())


class PgResult(IteratorResult[Any]):
    """The rows of one statement, as SQLAlchemy's results give them; `rowcount` from the status."""

    def __init__(self, metadata: SimpleResultMetaData, rows: Sequence[Any], rowcount: int) -> None:
        super().__init__(metadata, iter(rows))
        self._rowcount = rowcount

    @property
    def rowcount(self) -> int:
        return self._rowcount


_EMPTY = SimpleResultMetaData([])
_FLOAT8, _NUMERIC = 701, 1700  # PostgreSQL's type OIDs


_SeenKey = tuple[int, tuple[str, ...], bool]  # a statement object's id, its columns, executemany


class PostgresPool:
    def __init__(
        self,
        url: str,
        connect_args: Mapping[str, Any],
        size: int,
        dialect: Dialect,
        round_trips: list[RoundTripListener],
    ) -> None:
        self.dialect = dialect
        self.round_trips = round_trips
        # The dialect's own connect arguments (host, port, user, ... from the URL), then ours.
        _, options = dialect.create_connect_args(make_url(url))
        options.pop("prepared_statement_cache_size", None)
        options.update(connect_args)
        self._connections = ConnectionPool(options, size, self._json_codecs)
        self._shapes: LRUCache[Any, _Shape] = LRUCache(500)
        self._seen: dict[_SeenKey, tuple[ref[Executable], tuple[_Shape, Any, Any]]] = {}

    async def acquire(self, autocommit: bool) -> PgConnection:
        try:
            raw = await self._connections.acquire()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise _translated(exc, "") from exc
        return PgConnection(self, raw, autocommit)

    def release(self, conn: PgConnection) -> None:
        self._connections.release(conn.raw, reusable=not conn.interrupted)

    async def close(self) -> None:
        await self._connections.close()

    async def _json_codecs(self, raw: asyncpg.Connection) -> None:
        """JSON and JSONB as SQLAlchemy's asyncpg dialect sets them on its connections (it leaves the
        decoding of JSON columns to asyncpg)."""
        adapted = SimpleNamespace(_connection=raw)
        await self.dialect.setup_asyncpg_json_codec(adapted)  # type: ignore[attr-defined]
        await self.dialect.setup_asyncpg_jsonb_codec(adapted)  # type: ignore[attr-defined]

    def shape(self, statement: Executable, params: Mapping[str, Any], many: bool) -> tuple[_Shape, Any, Any]:
        """The statement compiled (cached on its cache key, as SQLAlchemy's engine does), the values
        its cache key extracted from it, and those it collected. A statement built once and run
        again (most are: shared/storage/prebuilt.py) is found by the object itself first: its cache
        key is a deep tuple whose hash Python computes anew at each lookup (10 µs for an identity
        load), and the object, unchangeable once built, always has the same answer.

        The object is held weakly: a statement built per call (a page of sessions with its
        conditions, some 27 KB of SQLAlchemy objects) leaves with its call, where a bounded table of
        them kept the last few hundred alive (10 MiB of a session service's memory in a soak)."""
        # An INSERT or UPDATE without explicit values takes its columns from the parameters given.
        columns = tuple(params) if getattr(statement, "is_dml", False) else ()
        mine = (id(statement), columns, many)
        seen = self._seen.get(mine)
        if seen is not None and seen[0]() is statement:  # the same object, not one with its old id
            return seen[1]
        cache_key = statement._generate_cache_key()  # type: ignore[attr-defined]
        if cache_key is None:
            return self._compile(statement, None, columns, many), None, None
        key = (cache_key.key, columns, many)
        shape = self._shapes.get(key)
        if shape is None:
            shape = self._shapes[key] = self._compile(statement, cache_key, columns, many)
        found = (shape, cache_key.bindparams, cache_key.params)
        self._seen[mine] = (ref(statement, self._forget(mine)), found)
        return found

    def _forget(self, mine: _SeenKey) -> Callable[[ref[Executable]], None]:
        """Drops a statement's entry once the statement is gone (before its id can be reused)."""
        seen = self._seen

        def gone(dead: ref[Executable]) -> None:
            entry = seen.get(mine)
            if entry is not None and entry[0] is dead:
                del seen[mine]

        return gone

    def _compile(self, statement: Executable, cache_key: Any, columns: tuple[str, ...], many: bool) -> _Shape:
        compiled = statement._compiler(  # type: ignore[attr-defined]
            self.dialect, cache_key=cache_key, column_keys=list(columns), for_executemany=many
        )
        if compiled.insert_prefetch or compiled.update_prefetch:
            raise NotImplementedError("columns with Python-side defaults are not supported on PostgreSQL")
        dml = compiled.isinsert or compiled.isupdate or compiled.isdelete
        returns_rows = compiled.isplaintext or not dml or bool(compiled.effective_returning)
        metadata: SimpleResultMetaData | None = None
        if compiled._result_columns:
            processors = [_result_processor(column[3], self.dialect) for column in compiled._result_columns]
            metadata = SimpleResultMetaData(
                [column[0] for column in compiled._result_columns],
                _processors=processors if any(processors) else None,
            )
        elif not returns_rows:
            metadata = _EMPTY
        expands = bool(compiled.literal_execute_params or compiled.post_compile_params)
        return _Shape(compiled, expands, returns_rows, metadata)


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

    def __init__(self, pool: PostgresPool, raw: asyncpg.Connection, autocommit: bool) -> None:
        self.raw = raw
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

    async def execute(self, statement: Executable, parameters: Any = None) -> PgResult:
        # As SQLAlchemy does: a list of one set of values is one execution, of several an executemany.
        rows = parameters if isinstance(parameters, list | tuple) and parameters else [parameters or {}]
        many = len(rows) > 1
        shape, extracted, collected = self._pool.shape(statement, rows[0], many)
        sql, args = _bound(shape, rows, extracted, collected)
        if not self._autocommit and self._transaction is None:
            await self._begin()
        for listener in self._pool.round_trips:
            listener(sql)
        if many:
            await self._exchange(sql, self.raw.executemany(sql, args))
            return PgResult(shape.metadata or _EMPTY, (), -1)
        if shape.returns_rows:
            records = await self._exchange(sql, self.raw.fetch(sql, *args[0]))
            metadata = shape.metadata or SimpleResultMetaData(list(records[0].keys()) if records else [])
            return PgResult(metadata, records, len(records))
        status = await self._exchange(sql, self.raw.execute(sql, *args[0]))
        return PgResult(_EMPTY, (), _rowcount(status))

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


def _bound(
    shape: _Shape, rows: Sequence[Mapping[str, Any]], extracted: Any, collected: Any
) -> tuple[str, list[list[Any]]]:
    """The SQL to send and each execution's positional values, as SQLAlchemy's execution context
    makes them (its bind processors applied)."""
    compiled = shape.compiled
    processors: Mapping[str, Any] = compiled._bind_processors
    sql = compiled.string
    order: Sequence[str] = compiled.positiontup or ()
    args = []
    for row in rows:
        values = compiled.construct_params(
            row, extracted_parameters=extracted, escape_names=False, _collected_params=collected
        )
        if shape.expands:
            expanded = compiled._process_parameters_for_postcompile(values)
            sql, order, values = expanded.statement, expanded.positiontup or (), dict(expanded.parameters)
            processors = {**processors, **expanded.processors}
        args.append([processors[name](values[name]) if name in processors else values[name] for name in order])
    return sql, args


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
