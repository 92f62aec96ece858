"""A statement built per call (a page of sessions with its own conditions) is not kept alive once
its call is over, on either engine: a process serving such queries for days must not hold on to
hundreds of them. Compiled SQL is kept once per shape, which is what makes the next one cheap."""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime

from sqlalchemy import MetaData, select

from shared.storage.database import Database
from shared.storage.tables import outbox_table

CALLS = 300


async def test_statements_built_per_call_do_not_outlive_their_calls(database: Database) -> None:
    table = outbox_table(MetaData(), "identity")
    page = select(table.c.id).where(table.c.type == "warm-up").subquery("page")
    built = []
    async with database.connect() as conn:
        for n in range(CALLS):
            # A subquery, as a page of sessions is read: the kind of statement that weighs most.
            page = select(table.c.id, table.c.type).where(table.c.type == f"type-{n}").limit(5).subquery("page")
            statement = select(page.c.id).order_by(page.c.id)
            assert (await conn.execute(statement)).all() == []
            built.append(weakref.ref(statement))
            del statement, page
    gc.collect()
    alive = sum(1 for statement in built if statement() is not None)
    assert alive <= 1, f"{alive} of {CALLS} statements built per call are still alive"  # the one compiled


async def test_a_new_statement_in_a_dead_ones_place_is_run_as_itself(database: Database) -> None:
    """CPython gives a new object the address, and so the id, of one just freed: the cache of
    statement objects must not answer for the new one with the old one's SQL."""
    table = outbox_table(MetaData(), "identity")
    async with database.connect() as conn:
        await conn.execute(
            table.insert().values(id="row", type="kind", source="test", occurred_at=datetime.now(UTC), data="{}")
        )
        for n in range(40):
            column = (table.c.id, table.c.type)[n % 2]
            statement = select(column.label("value")).where(table.c.source == "test")
            assert (await conn.execute(statement)).scalar_one() == ("row", "kind")[n % 2]
            del statement
