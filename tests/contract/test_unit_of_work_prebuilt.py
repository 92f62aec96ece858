"""A unit of work's writes given as statements built once with their values beside them
(shared/storage/prebuilt.py), on both engines: each row stored with its own values, whether the
statements differ or one statement is written twice (their parameter names then clash, and they go
one by one in a transaction), and nothing stored without the commit."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import MetaData, select

from shared.bus.outbox import EVENT_COLUMNS, Outbox
from shared.storage.database import Database
from shared.storage.prebuilt import bound, insert_of
from shared.storage.tables import outbox_table
from shared.storage.uow import UnitOfWorkFactory, _as_one


def _row(n: int) -> dict[str, object]:
    return {
        "id": f"row-{n}",
        "type": "test.row",
        "source": "test",
        "occurred_at": datetime.now(UTC),
        "data": json.dumps({"n": n}),
        "trace_context": None,
    }


async def test_different_statements_built_once_store_their_own_values(database: Database) -> None:
    outbox = Outbox(outbox_table(MetaData(), "identity"))
    first, second = insert_of(outbox.table, "a", EVENT_COLUMNS), insert_of(outbox.table, "b", EVENT_COLUMNS)
    uow = UnitOfWorkFactory(database, outbox, "identity")
    async with uow() as work:
        work.write(first, bound("a", _row(1)))
        work.write(second, bound("b", _row(2)))
        work.emit_raw("identity.updated", {"id": "x"})
        await work.commit()
    async with database.connect() as conn:
        rows = {row.id: json.loads(row.data) for row in await conn.execute(select(outbox.table))}
    assert rows["row-1"] == {"n": 1} and rows["row-2"] == {"n": 2}
    assert len(rows) == 3  # and the event


async def test_one_statement_written_twice_stores_both_rows(database: Database) -> None:
    outbox = Outbox(outbox_table(MetaData(), "identity"))
    statement = insert_of(outbox.table, "r", EVENT_COLUMNS)
    uow = UnitOfWorkFactory(database, outbox, "identity")
    for n in (0, 2):
        async with uow() as work:
            work.write(statement, bound("r", _row(n)))
            work.write(statement, bound("r", _row(n + 1)))
            await work.commit()
    rows = await _all(database, outbox)
    assert rows == {f"row-{n}": {"n": n} for n in range(4)}


async def test_nothing_is_stored_without_the_commit(database: Database) -> None:
    outbox = Outbox(outbox_table(MetaData(), "identity"))
    uow = UnitOfWorkFactory(database, outbox, "identity")
    async with uow() as work:
        work.write(insert_of(outbox.table, "r", EVENT_COLUMNS), bound("r", _row(9)))
    assert await _all(database, outbox) == {}


async def _all(database: Database, outbox: Outbox) -> dict[str, object]:
    async with database.connect() as conn:
        return {row.id: json.loads(row.data) for row in await conn.execute(select(outbox.table))}


def test_statements_built_once_combine_into_the_same_statement_each_time() -> None:
    table = outbox_table(MetaData(), "identity")
    first, second = insert_of(table, "a", EVENT_COLUMNS), insert_of(table, "b", EVENT_COLUMNS)
    once = _as_one([(first, bound("a", _row(1))), (second, bound("b", _row(2)))])
    again = _as_one([(first, bound("a", _row(3))), (second, bound("b", _row(4)))])
    assert once is not None and again is not None
    assert again[0] is once[0]  # SQLAlchemy finds its cache key already computed
    assert again[1]["a_id"] == "row-3" and again[1]["b_id"] == "row-4"
    assert _as_one([(first, bound("a", _row(5))), (first, bound("a", _row(6)))]) is None
