"""`warden cleanup` keeps a consumer's record of a processed event for a week, on both engines: older
records go, in batches of the size asked for, and recent ones stay (a redelivery of them is still
recognised)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import MetaData, insert, select

from shared.bus.inbox import PROCESSED_RETENTION, prune_processed
from shared.storage import migrations
from shared.storage.database import Database
from shared.storage.tables import processed_events_table
from warden.services import SERVICES


@pytest.fixture
async def database(any_dsn: str) -> AsyncIterator[Database]:
    db = Database.from_dsn(any_dsn)
    await migrations.upgrade(db, next(s.migrations for s in SERVICES if s.name == "session"))
    yield db
    await db.dispose()


async def test_records_older_than_the_retention_go_in_batches_and_recent_ones_stay(database: Database) -> None:
    processed = processed_events_table(MetaData(), "session")
    now = datetime.now(UTC)
    old, recent = now - PROCESSED_RETENTION - timedelta(hours=1), now - PROCESSED_RETENTION + timedelta(hours=1)
    rows = [{"event_id": f"old-{n}", "queue": "q", "processed_at": old} for n in range(3)]
    rows += [{"event_id": "old-0", "queue": "another-q", "processed_at": recent}]  # same event, another queue
    rows += [{"event_id": "recent", "queue": "q", "processed_at": recent}]
    async with database.transaction() as conn:
        await conn.execute(insert(processed), rows)

    assert await prune_processed(database, 2, now, processed=processed) == 2
    assert await prune_processed(database, 2, now, processed=processed) == 1
    assert await prune_processed(database, 2, now, processed=processed) == 0
    async with database.connect() as conn:
        left = {(r.event_id, r.queue) for r in await conn.execute(select(processed.c.event_id, processed.c.queue))}
    assert left == {("old-0", "another-q"), ("recent", "q")}
