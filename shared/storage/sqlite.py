"""SQLAlchemy Core statements run on Python's sqlite3 directly, on one thread of their own, for SQLite.

SQLAlchemy's async engine over aiosqlite cost about 270 µs of CPU per statement (a greenlet hop, an
execution context and a cursor result, then aiosqlite's queue and a thread hop for the statement and
another for its rows), against some 25 µs for the statement itself and one hop to a thread: on SQLite
a login spent most of its event loop's time there, and a whoami waited behind it. Here statements
are compiled by SQLAlchemy's SQLite dialect once per shape (compiled.py, as on PostgreSQL) and run on
one sqlite3 connection that only one thread uses: each statement with its rows in one hop, and a
unit of work's writes with their COMMIT in one hop (`commit_with`).

Transactions are explicit (the connection is opened in sqlite3's autocommit mode): BEGIN IMMEDIATE
goes with a transaction's first statement, so a writer takes SQLite's lock at its start and waits
(busy_timeout) for another process's writer rather than failing when it upgrades a read. A process
runs one transaction at a time: `Database` queues them, as SQLite takes one writer at a time.

Errors come out as SQLAlchemy's (`IntegrityError`, `OperationalError`, ...), with the statement and
never its values. Every hop to the thread is told to `Database.round_trips`' listeners first, with
the SQL it carries (tests/round_trips.py counts them).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.result import SimpleResultMetaData
from sqlalchemy.sql.expression import Executable

from shared.storage.compiled import EMPTY, Shape, Shapes, StatementResult, bound, executions

_T = TypeVar("_T")
RoundTripListener = Callable[[str], None]
# Told of each statement as it starts on the thread, in the context of the task that sent it; answers
# what to call when it ends (with its error, or None), or None. shared/tracing/sqlite.py makes spans
# of them. Process-wide, as the SQLAlchemy engine events it replaces were.
StatementObserver = Callable[[str], Callable[[BaseException | None], None] | None]
OBSERVERS: list[StatementObserver] = []
BEGIN = "BEGIN IMMEDIATE"
# Every connection's, this one's and the engine's (Alembic's). With WAL, synchronous=NORMAL is still
# crash-safe (a power cut may lose the last commits, never corrupt).
PRAGMAS = ("PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=5000", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL")


@dataclass(frozen=True)
class _Sent:
    """One statement as the thread runs it."""

    shape: Shape
    sql: str
    args: list[list[Any]]

    @property
    def many(self) -> bool:
        return len(self.args) > 1


class _Failed(Exception):
    """A statement SQLite refused, with the statement (never its values)."""

    def __init__(self, sql: str, error: sqlite3.Error) -> None:
        super().__init__(sql)
        self.sql = sql
        self.error = error


class SqliteRunner:
    """One database's sqlite3 connection and the one thread that uses it; opened at first use."""

    def __init__(self, path: str, uri: bool, dialect: Dialect, round_trips: list[RoundTripListener]) -> None:
        self.shapes = Shapes(dialect)
        self.dialect = dialect
        self.round_trips = round_trips
        self._path = path
        self._uri = uri
        self._raw: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="warden-sqlite")

    async def call(self, told: str, work: Callable[[sqlite3.Connection], _T], *, must_run: bool = False) -> _T:
        """`work` on the thread, with the connection; `told` is what the listeners hear of it.
        Cancelling the caller while the work waits for the thread drops the work, unless it
        `must_run`: a ROLLBACK, which a task sends as it leaves its transaction (often because it
        was cancelled) and may be cancelled again while it waits. Dropped, it would leave the
        transaction open on the one connection: the next write outside a transaction would land in
        it, and SQLite's writer lock would stay taken until another transaction began."""
        for listener in self.round_trips:
            listener(told)
        hop = functools.partial(self._with_connection, work)
        if OBSERVERS:  # they see the sending task's context (its current span) on the thread
            hop = functools.partial(contextvars.copy_context().run, hop)
        try:
            sent = asyncio.get_running_loop().run_in_executor(self._thread, hop)
            return await (asyncio.shield(sent) if must_run else sent)
        except _Failed as failed:
            raise _translated(failed.error, failed.sql) from failed.error
        except sqlite3.Error as exc:
            raise _translated(exc, told) from exc

    def _with_connection(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._raw is None:
            self._raw = _connect(self._path, self._uri)
        return work(self._raw)

    async def close(self) -> None:
        def close() -> None:
            if self._raw is not None:
                self._raw.close()
                self._raw = None

        await asyncio.get_running_loop().run_in_executor(self._thread, close)
        self._thread.shutdown(wait=True)


def _connect(path: str, uri: bool) -> sqlite3.Connection:
    # isolation_level=None: sqlite3 begins nothing by itself; transactions are the ones sent here.
    raw = sqlite3.connect(path, uri=uri, isolation_level=None, check_same_thread=False)
    for pragma in PRAGMAS:
        raw.execute(pragma)
    return raw


class SqliteConnection:
    """A connection for one transaction (begun at its first statement), or, in autocommit, for
    statements that each commit by themselves."""

    def __init__(self, runner: SqliteRunner, autocommit: bool) -> None:
        self._runner = runner
        self._autocommit = autocommit
        self.in_transaction = False

    @property
    def dialect(self) -> Dialect:
        return self._runner.dialect

    async def execute(self, statement: Executable, parameters: Any = None) -> StatementResult:
        sent = self._sent(statement, parameters)
        return (await self._call(self._begins(), [sent], None))[0]

    async def commit_with(self, writes: Sequence[tuple[Executable, Mapping[str, Any]]]) -> None:
        """The writes, then COMMIT, in one hop to the thread (a unit of work's end)."""
        sent = [self._sent(statement, params or None) for statement, params in writes]
        begin = self._begins() if sent else False
        if not sent and not self.in_transaction:
            return
        await self._call(begin, sent, "COMMIT")
        self.in_transaction = False

    async def commit(self) -> None:
        await self.commit_with(())

    async def rollback(self) -> None:
        if not self.in_transaction:
            return
        self.in_transaction = False
        await self._runner.call("ROLLBACK", _rolled_back, must_run=True)

    async def _call(self, begin: bool, sent: list[_Sent], end: str | None) -> list[StatementResult]:
        try:
            return await self._runner.call(_told(begin, sent, end), lambda raw: _run(raw, begin, sent, end))
        except sa_exc.DBAPIError as error:
            if begin and error.statement == BEGIN:  # refused (another process's writer, past busy_timeout):
                self.in_transaction = False  # no transaction began, the next statement begins one
            raise

    def _sent(self, statement: Executable, parameters: Any) -> _Sent:
        rows = executions(parameters)
        shape, extracted, collected = self._runner.shapes.shape(statement, rows[0], len(rows) > 1)
        sql, args = bound(shape, rows, extracted, collected)
        return _Sent(shape, sql, args)

    def _begins(self) -> bool:
        """Whether this statement begins the connection's transaction. The transaction counts as
        open from here: a caller cancelled while the hop is on the thread leaves through ROLLBACK."""
        if self._autocommit or self.in_transaction:
            return False
        self.in_transaction = True
        return True


def _run(raw: sqlite3.Connection, begin: bool, statements: Sequence[_Sent], end: str | None) -> list[StatementResult]:
    """On the thread: the statements (in the transaction `begin` opens), then `end` (COMMIT)."""
    if begin:
        if raw.in_transaction:  # left open by a connection whose ROLLBACK never came (cancelled)
            raw.execute("ROLLBACK")
        _step(raw, BEGIN)
    results = [_result(raw, sent) for sent in statements]
    if end is not None and raw.in_transaction:
        _step(raw, end)
    return results


def _step(raw: sqlite3.Connection, sql: str) -> None:
    try:
        raw.execute(sql)
    except sqlite3.Error as exc:
        raise _Failed(sql, exc) from exc


def _result(raw: sqlite3.Connection, sent: _Sent) -> StatementResult:
    if not OBSERVERS:
        return _ran(raw, sent)
    ends = [end for observe in OBSERVERS if (end := observe(sent.sql)) is not None]
    try:
        result = _ran(raw, sent)
    except BaseException as error:  # SQLite's refusal, or sqlite3's own (a value it cannot bind)
        for end in ends:
            end(error.error if isinstance(error, _Failed) else error)
        raise
    for end in ends:
        end(None)
    return result


def _ran(raw: sqlite3.Connection, sent: _Sent) -> StatementResult:
    try:
        if sent.many:
            cursor = raw.executemany(sent.sql, sent.args)
            return StatementResult(sent.shape.metadata or EMPTY, (), cursor.rowcount)
        cursor = raw.execute(sent.sql, sent.args[0])
        if cursor.description is None:  # no rows come back (a write without RETURNING, text() ones too)
            return StatementResult(EMPTY, (), cursor.rowcount)
        rows = cursor.fetchall()
    except sqlite3.Error as exc:
        raise _Failed(sent.sql, exc) from exc
    metadata = sent.shape.metadata or SimpleResultMetaData([d[0] for d in cursor.description or ()])
    return StatementResult(metadata, rows, len(rows))


def _rolled_back(raw: sqlite3.Connection) -> None:
    if raw.in_transaction:
        raw.execute("ROLLBACK")


def _told(begin: bool, statements: Sequence[_Sent], end: str | None) -> str:
    return "; ".join([*([BEGIN] if begin else []), *(sent.sql for sent in statements), *([end] if end else [])])


def _translated(exc: sqlite3.Error, sql: str) -> sa_exc.DBAPIError:
    """sqlite3's error as the SQLAlchemy error that callers (and the HTTP middleware) expect, as the
    engine wraps it (hide_parameters=True): the DB-API names its errors alike in both."""
    kind = getattr(sa_exc, type(exc).__name__, None)
    if not (isinstance(kind, type) and issubclass(kind, sa_exc.DBAPIError)):
        kind = sa_exc.DatabaseError
    return kind(sql, None, exc, hide_parameters=True)
