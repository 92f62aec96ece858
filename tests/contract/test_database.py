"""The Database's connections, on both engines: sqlite3's on a thread of their own on SQLite
(shared/storage/sqlite.py), asyncpg's on PostgreSQL (shared/storage/postgres.py). Results read the same (attributes, `all`, `one`, `first`,
`scalar_one`, `scalars`, `rowcount`), lists bind as `IN`, several sets of values are one executemany,
transactions commit or roll back as their block ends, and a failing statement raises SQLAlchemy's
error without the values it was given."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import Float, MetaData, cast, delete, func, insert, literal, select, text, update
from sqlalchemy.exc import IntegrityError

from shared.bus.outbox import Outbox
from shared.logging import _JsonFormatter
from shared.storage import migrations
from shared.storage.database import Database
from shared.storage.tables import outbox_table
from shared.storage.uow import UnitOfWorkFactory
from warden.services import SERVICES

OUTBOX = outbox_table(MetaData(), "identity")
SECRET = "a-value-that-must-not-be-logged"


def _row(row_id: str) -> dict[str, object]:
    return {
        "id": row_id,
        "type": "test.row",
        "source": "test",
        "occurred_at": datetime.now(UTC),
        "data": json.dumps({"id": row_id}),
        "trace_context": None,
    }


async def _ids(db: Database) -> set[str]:
    async with db.read() as conn:
        return set((await conn.execute(select(OUTBOX.c.id))).scalars())


async def test_results_read_as_sqlalchemy_gives_them(database: Database) -> None:
    async with database.transaction() as conn:
        await conn.execute(insert(OUTBOX), [_row("a"), _row("b"), _row("c")])  # executemany
        await conn.execute(insert(OUTBOX), [_row("d")])
        await conn.execute(insert(OUTBOX), _row("e"))
    async with database.read() as conn:
        rows = (await conn.execute(select(OUTBOX).where(OUTBOX.c.id.in_(["a", "c", "x"])).order_by(OUTBOX.c.id))).all()
        assert [(row.id, json.loads(row.data)) for row in rows] == [("a", {"id": "a"}), ("c", {"id": "c"})]
        assert rows[0].occurred_at.tzinfo is not None or database.dialect == "sqlite"
        assert (await conn.execute(select(OUTBOX.c.id).where(OUTBOX.c.id == "b"))).first().id == "b"  # type: ignore[union-attr]
        assert (await conn.execute(select(OUTBOX.c.id).where(OUTBOX.c.id == "x"))).first() is None
        count, oldest = (await conn.execute(select(func.count(), func.min(OUTBOX.c.occurred_at)))).one()
        assert count == 5 and oldest is not None
        assert (await conn.execute(select(cast(literal(1.5), Float)))).scalar_one() == 1.5
        assert sorted((await conn.execute(select(OUTBOX.c.id))).scalars()) == ["a", "b", "c", "d", "e"]
        assert [row.id for row in await conn.execute(select(OUTBOX.c.id).order_by(OUTBOX.c.id).limit(2))] == ["a", "b"]
        changed = await conn.execute(update(OUTBOX).where(OUTBOX.c.id.in_(["a", "b"])).values(source="other"))
        assert changed.rowcount == 2
        assert (await conn.execute(delete(OUTBOX).where(OUTBOX.c.id == "x"))).rowcount == 0
    assert await _ids(database) == {"a", "b", "c", "d", "e"}


async def test_a_text_statement_s_rowcount_is_the_rows_it_wrote(database: Database) -> None:
    """A text() statement may or may not return rows, which only the database knows: one that
    returns none (an UPDATE, DELETE or INSERT without RETURNING) counts the rows it wrote, as
    SQLAlchemy's engine counted them; one that returns rows counts those. Each runs twice: the first
    time PostgreSQL is asked what the statement returns, the second time that is known."""
    copied = text(
        "INSERT INTO identity_outbox (id, type, source, occurred_at, data) "
        "SELECT id || :suffix, type, source, occurred_at, data FROM identity_outbox WHERE id IN ('a', 'b')"
    )
    renamed = text("UPDATE identity_outbox SET source = :source WHERE id LIKE 'a%'")
    dropped = text("DELETE FROM identity_outbox WHERE id LIKE :pattern")
    returned = text("UPDATE identity_outbox SET source = 'back' WHERE id = :id RETURNING id")
    async with database.transaction() as conn:
        await conn.execute(insert(OUTBOX), [_row("a"), _row("b"), _row("c")])
        assert [(await conn.execute(copied, {"suffix": s})).rowcount for s in ("-1", "-2")] == [2, 2]
        assert [(await conn.execute(renamed, {"source": s})).rowcount for s in ("x", "y")] == [3, 3]
        assert [(await conn.execute(dropped, {"pattern": p})).rowcount for p in ("%-1", "%-1")] == [2, 0]
        assert (await conn.execute(text("DELETE FROM identity_outbox WHERE id = 'b-2'"))).rowcount == 1  # no values
        for _ in range(2):
            result = await conn.execute(returned, {"id": "c"})
            assert result.rowcount == 1 and [row.id for row in result] == ["c"]
    assert await _ids(database) == {"a", "b", "c", "a-2"}


async def test_a_transaction_commits_at_its_end_and_rolls_back_when_it_raises(database: Database) -> None:
    with pytest.raises(RuntimeError):
        async with database.transaction() as conn:
            await conn.execute(insert(OUTBOX), _row("lost"))
            raise RuntimeError("the block failed")
    async with database.connect() as conn:
        await conn.execute(insert(OUTBOX), _row("never-committed"))
    async with database.connect() as conn:
        await conn.execute(insert(OUTBOX), _row("committed"))
        await conn.commit()
    async with database.read() as conn:
        await conn.execute(insert(OUTBOX), _row("alone"))  # commits by itself
    assert await _ids(database) == {"committed", "alone"}


async def test_a_failing_statement_raises_sqlalchemy_s_error_without_its_values(database: Database) -> None:
    async with database.read() as conn:
        await conn.execute(insert(OUTBOX), {**_row("dup"), "data": SECRET})
    with pytest.raises(IntegrityError) as raised:
        async with database.transaction() as conn:
            await conn.execute(insert(OUTBOX), {**_row("dup"), "data": SECRET})
    assert "INSERT INTO" in str(raised.value) and SECRET not in str(raised.value)
    assert await _ids(database) == {"dup"}
    async with database.transaction() as conn:  # the connection went back to the pool usable
        await conn.execute(insert(OUTBOX), _row("after"))
    assert await _ids(database) == {"dup", "after"}


async def test_a_constraint_error_reaches_the_log_without_the_row_s_values(database: Database) -> None:
    """PostgreSQL's DETAIL names the key's value (`Key (id)=(...) already exists`) and the driver puts
    it into the error's text: the log line masks it, as an unexpected error's traceback is logged."""
    row_id = "an-identifier-of-a-user"
    async with database.read() as conn:
        await conn.execute(insert(OUTBOX), _row(row_id))
    with pytest.raises(IntegrityError) as raised:
        async with database.read() as conn:
            await conn.execute(insert(OUTBOX), _row(row_id))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_JsonFormatter("identity"))
    logger = logging.getLogger("test.constraint_errors")
    logger.handlers[:], logger.propagate = [handler], False
    logger.error("unexpected error", exc_info=(IntegrityError, raised.value, raised.value.__traceback__))
    line = json.loads(stream.getvalue())
    assert "IntegrityError" in line["stack"] and row_id not in stream.getvalue()


async def test_max_conns_in_the_dsn_caps_the_connections_a_process_opens(pg_dsn: str) -> None:
    """Kratos's `max_conns`: an operator sizes PostgreSQL's `max_connections` by replicas times it."""
    separator = "&" if "?" in pg_dsn else "?"
    db = Database.from_dsn(f"{pg_dsn}{separator}max_conns=2")
    try:
        connections = [db.read() for _ in range(3)]
        held = [await connections[0].__aenter__(), await connections[1].__aenter__()]
        third = asyncio.ensure_future(connections[2].__aenter__())
        done, _ = await asyncio.wait({third}, timeout=0.5)
        assert not done, "a third connection was opened past max_conns=2"
        await connections[0].__aexit__(None, None, None)
        assert (await (await asyncio.wait_for(third, 10)).execute(select(literal(1)))).scalar_one() == 1
        await connections[1].__aexit__(None, None, None)
        await connections[2].__aexit__(None, None, None)
        assert len(held) == 2
    finally:
        await db.dispose()


async def test_a_write_that_may_be_lost_is_seen_at_once_and_commits_without_waiting_for_the_disk(
    database: Database,
) -> None:
    """`durable=False` (a flow just opened, the throttle's counts): on PostgreSQL its connections
    commit with synchronous_commit off, every other one as the server is set (on); on both engines
    the write is there for every reader as soon as it returns."""
    async with database.read(durable=False) as conn:
        await conn.execute(insert(OUTBOX), _row("lossable"))
    async with database.connect(durable=False) as conn:
        await conn.execute(insert(OUTBOX), _row("lossable-in-a-transaction"))
        await conn.commit()
    assert await _ids(database) == {"lossable", "lossable-in-a-transaction"}
    if database.dialect == "postgresql":
        show = text("SHOW synchronous_commit")
        async with database.read(durable=False) as conn:
            assert (await conn.execute(show)).scalar_one() == "off"
        async with database.connect(durable=False) as conn:
            assert (await conn.execute(show)).scalar_one() == "off"
        async with database.read() as conn:
            assert (await conn.execute(show)).scalar_one() == "on"
        async with database.transaction() as conn:
            assert (await conn.execute(show)).scalar_one() == "on"


async def test_a_change_that_may_be_lost_raises_no_event(database: Database) -> None:
    """An event goes with a change that survives a crash, or it could be lost with it."""
    work = UnitOfWorkFactory(database, Outbox(OUTBOX), "identity")
    async with work(durable=False) as uow:
        with pytest.raises(RuntimeError, match="durable=False"):
            uow.emit_raw("test.row", {"id": "x"})


async def test_max_conns_counts_the_connections_that_commit_without_waiting(pg_dsn: str) -> None:
    """A quarter of `max_conns` commit without waiting for the disk; the process still opens at most
    `max_conns` in all, and a burst of one kind waits for its own kind rather than taking the other's."""
    separator = "&" if "?" in pg_dsn else "?"
    db = Database.from_dsn(f"{pg_dsn}{separator}max_conns=4")
    name = pg_dsn.rsplit("/", 1)[1].split("?")[0]
    count = text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()")
    try:
        durable = [db.read() for _ in range(4)]
        lossable = [db.read(durable=False) for _ in range(2)]
        held = [await c.__aenter__() for c in (*durable[:3], lossable[0])]
        waiting = [asyncio.ensure_future(durable[3].__aenter__()), asyncio.ensure_future(lossable[1].__aenter__())]
        done, _ = await asyncio.wait(waiting, timeout=0.5)
        assert not done, "a connection was opened past max_conns=4"
        assert (await held[0].execute(count, {"name": name})).scalar_one() == 3  # the 4 held, this one not counted
        await lossable[0].__aexit__(None, None, None)  # a lossable one given back goes to its own kind
        fourth_lossable = await asyncio.wait_for(waiting[1], 10)
        assert (await fourth_lossable.execute(text("SHOW synchronous_commit"))).scalar_one() == "off"
        assert not waiting[0].done()
        await durable[0].__aexit__(None, None, None)
        assert (await (await asyncio.wait_for(waiting[0], 10)).execute(select(literal(1)))).scalar_one() == 1
        for opened in (*durable[1:], lossable[1]):
            await opened.__aexit__(None, None, None)
    finally:
        await db.dispose()


async def test_a_unit_of_work_whose_last_write_fails_commits_none_of_them(database: Database) -> None:
    """A unit of work's writes go together (one statement on PostgreSQL, one call with the COMMIT on
    SQLite's thread): when one is refused, none of the others stays."""
    async with database.read() as conn:
        await conn.execute(insert(OUTBOX), _row("taken"))
    work = UnitOfWorkFactory(database, Outbox(OUTBOX), "identity")
    with pytest.raises(IntegrityError):
        async with work() as uow:
            uow.write(insert(OUTBOX).values(_row("first")))
            uow.write(insert(OUTBOX).values(_row("taken")))
            await uow.commit()
    assert await _ids(database) == {"taken"}
    async with work() as uow:  # and the next one commits as usual
        uow.write(insert(OUTBOX).values(_row("next")))
        await uow.commit()
    assert await _ids(database) == {"taken", "next"}


async def test_a_transaction_cancelled_part_way_leaves_nothing_and_the_next_one_works(database: Database) -> None:
    started = asyncio.Event()

    async def interrupted() -> None:
        async with database.connect() as conn:
            await conn.execute(insert(OUTBOX), _row("half-done"))
            started.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(interrupted())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with database.transaction() as conn:
        await conn.execute(insert(OUTBOX), _row("whole"))
    assert await _ids(database) == {"whole"}


async def test_an_in_memory_database_keeps_what_was_written_for_the_process_s_life() -> None:
    """Kratos's `memory` DSN: the tables the migrations made (on SQLAlchemy's engine) are the ones
    statements use (on sqlite3's own connection), and each such database is the process's own."""
    first, second = Database.from_dsn("memory"), Database.from_dsn("memory")
    identity = next(s.migrations for s in SERVICES if s.name == "identity")
    try:
        for db in (first, second):
            await migrations.upgrade(db, identity)
        async with first.transaction() as conn:
            await conn.execute(insert(OUTBOX), _row("kept"))
        assert await _ids(first) == {"kept"}
        assert await _ids(second) == set()
    finally:
        await first.dispose()
        await second.dispose()
