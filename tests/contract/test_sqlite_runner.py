"""SQLite's statements on sqlite3 directly, on a thread of their own (shared/storage/sqlite.py): what
only SQLite has. The file is the test's own, and what another process would see of it is read
through a connection of its own."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import OperationalError

from shared.config.loader import load_settings
from shared.storage import migrations
from shared.storage.database import Database
from shared.storage.sqlite import OBSERVERS
from tests.conftest import eventually
from tests.contract.test_database import OUTBOX, _row
from warden.services import SERVICES


async def _migrated(dsn: str) -> Database:
    db = Database.from_dsn(dsn)
    await migrations.upgrade(db, next(s.migrations for s in SERVICES if s.name == "identity"))
    return db


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "warden.sqlite"


@pytest.fixture
async def database(path: Path) -> AsyncIterator[Database]:
    db = await _migrated(f"sqlite://{path}")
    yield db
    await db.dispose()


def _committed(path: Path) -> set[str]:
    """The outbox's ids as another process reads them: what is committed."""
    with sqlite3.connect(path) as outside:
        return {row[0] for row in outside.execute("SELECT id FROM identity_outbox")}


def _writer_lock_free(path: Path) -> bool:
    """Whether another process could begin writing now, without waiting."""
    outside = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        outside.execute("BEGIN IMMEDIATE")
        outside.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        outside.close()


async def test_a_path_with_an_escaped_character_is_one_file_for_the_migrations_and_the_statements(
    tmp_path: Path,
) -> None:
    """A DSN is a URL: a space in its path is written %20. The migrations (SQLAlchemy's engine) and
    the statements (sqlite3's own connection) must open the same file."""
    (tmp_path / "my data").mkdir()
    db = await _migrated(f"sqlite://{tmp_path}/my%20data/warden.sqlite?_fk=true")
    try:
        async with db.transaction() as conn:
            await conn.execute(insert(OUTBOX), _row("kept"))
        assert _committed(tmp_path / "my data" / "warden.sqlite") == {"kept"}
    finally:
        await db.dispose()


async def test_a_path_with_a_hash_or_a_question_mark_is_the_file_it_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`warden serve --dev` keeps its database in the working directory, whatever that is called:
    the DSN it builds escapes the path, so a `#` or `?` in a directory's name is no fragment or
    query. In a DSN written by hand a `#` is part of the path, as Kratos reads it (everything up to
    the first `?`); a `?` starts the query, whose parameters stay out of the file's name; a `?` in the
    path is written %3F."""
    odd = tmp_path / "dev #1?50%"
    odd.mkdir()
    monkeypatch.chdir(odd)
    written = {
        load_settings([], {}, dev=True).dsn: odd,
        f"sqlite://{tmp_path}/hand #2/warden.sqlite?_fk=true&mode=rwc": tmp_path / "hand #2",
        f"sqlite://{tmp_path}/hand%3F3/warden.sqlite?_fk=true": tmp_path / "hand?3",
    }
    for dsn, directory in written.items():
        directory.mkdir(exist_ok=True)
        db = await _migrated(dsn)
        try:
            async with db.transaction() as conn:
                await conn.execute(insert(OUTBOX), _row("kept"))
        finally:
            await db.dispose()
        assert _committed(directory / "warden.sqlite") == {"kept"}, dsn


async def test_a_transaction_cancelled_again_while_its_rollback_waits_leaves_no_transaction_open(
    database: Database, path: Path
) -> None:
    """A request task cancelled while its statement is on SQLite's thread leaves through the
    rollback; cancelled a second time while that ROLLBACK waits for the thread (a shutdown after a
    client went away), the ROLLBACK must still run: otherwise the transaction the statement began
    stays open on the one connection, the next read()'s write lands in it uncommitted, and SQLite's
    writer lock stays taken from every other process."""
    running, gate = threading.Event(), threading.Event()

    def hold(sql: str) -> Callable[[BaseException | None], None] | None:
        if sql.startswith("INSERT") and not gate.is_set():  # on the thread, inside the BEGIN it sent
            running.set()
            gate.wait()
        return None

    async def interrupted() -> None:
        async with database.connect() as conn:
            await conn.execute(insert(OUTBOX), _row("half-done"))

    told: list[str] = []
    OBSERVERS.append(hold)
    database.round_trips.append(told.append)
    try:
        task = asyncio.create_task(interrupted())
        await asyncio.to_thread(running.wait)
        task.cancel()  # it leaves its block and sends ROLLBACK, which waits behind the INSERT
        await eventually(lambda: "ROLLBACK" in told)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gate.set()
        async with database.read() as conn:
            await conn.execute(insert(OUTBOX), _row("alone"))  # commits by itself
        assert _committed(path) == {"alone"}
        assert _writer_lock_free(path)
        assert set(await _all_ids(database)) == {"alone"}
    finally:
        gate.set()
        OBSERVERS.remove(hold)


async def test_a_begin_refused_while_another_process_writes_leaves_no_transaction_behind(
    database: Database, path: Path
) -> None:
    """BEGIN IMMEDIATE waits busy_timeout for another process's writer, then fails: no transaction
    began. The connection must know it: its next statement begins one (rather than committing by
    itself, outside the transaction its caller asked for), and leaving it after the failure alone
    has nothing to roll back."""
    async with database.read() as conn:
        await conn.execute(text("PRAGMA busy_timeout=0"))  # refused at once, not after 5 s
    outside = sqlite3.connect(path, isolation_level=None)
    told: list[str] = []
    database.round_trips.append(told.append)
    try:
        outside.execute("BEGIN IMMEDIATE")
        async with database.connect() as conn:
            with pytest.raises(OperationalError, match="locked"):
                await conn.execute(insert(OUTBOX), _row("refused"))
        assert [call.split(";")[0] for call in told] == ["BEGIN IMMEDIATE"]  # and no ROLLBACK
        async with database.connect() as conn:
            with pytest.raises(OperationalError, match="locked"):
                await conn.execute(insert(OUTBOX), _row("refused"))
            outside.execute("ROLLBACK")
            await conn.execute(insert(OUTBOX), _row("not-committed"))  # and the block leaves without commit
        assert _committed(path) == set()
        assert _writer_lock_free(path)
    finally:
        outside.close()


async def _all_ids(db: Database) -> list[str]:
    async with db.read() as conn:
        return list((await conn.execute(select(OUTBOX.c.id))).scalars())
