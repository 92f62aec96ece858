"""The outbox relay on both engines: events go out in the order they were written, each once, in
rounds of its batch size, and leave no row behind; a failed publish leaves the whole round waiting;
a relay woken by a commit as it is stopped stops; events another process wrote go out at the next poll;
a row the relay of an earlier version marked published is not sent again; and on PostgreSQL two
relays side by side never send an event twice (the claim skips the rows another one holds)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import MetaData, func, select, update

from shared.bus.envelope import Envelope
from shared.bus.outbox import Outbox, OutboxRelay
from shared.errors import BusUnavailable
from shared.storage import migrations
from shared.storage.database import Database
from shared.storage.tables import outbox_table
from shared.storage.uow import UnitOfWorkFactory
from tests.stopping import stops_when_woken_as_cancelled
from warden.services import SERVICES


class Recording:
    """A publisher that keeps what it was given, yields to other tasks on each publish, and can be
    told to turn the next ones away as a broker outage would."""

    def __init__(self) -> None:
        self.published: list[str] = []
        self.refuse = False

    async def publish(self, envelope: Envelope) -> None:
        await asyncio.sleep(0)
        if self.refuse:
            raise BusUnavailable("the broker is away")
        self.published.append(envelope.data["n"])


async def _outbox_with(database: Database, count: int) -> Outbox:
    await migrations.upgrade(database, next(s.migrations for s in SERVICES if s.name == "identity"))
    outbox = Outbox(outbox_table(MetaData(), "identity"))
    uow = UnitOfWorkFactory(database, outbox, "identity")
    for n in range(count):
        async with uow() as work:
            work.emit_raw("identity.updated", {"n": n})
            await work.commit()
    return outbox


async def _rows(database: Database, outbox: Outbox) -> int:
    """Every row of the outbox, waiting or not: the relay deletes what it has published."""
    async with database.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(outbox.table))).scalar_one())


@pytest.fixture
async def database(any_dsn: str):
    db = Database.from_dsn(any_dsn)
    yield db
    await db.dispose()


async def test_events_go_out_in_order_in_rounds_of_the_batch_size(database: Database) -> None:
    outbox = await _outbox_with(database, 8)
    publisher = Recording()
    relay = OutboxRelay(database, outbox, publisher, batch_size=3)

    assert await relay.publish_pending() == 8
    assert publisher.published == list(range(8))
    assert await _rows(database, outbox) == 0
    assert await relay.publish_pending() == 0
    assert publisher.published == list(range(8))


async def test_a_failed_publish_leaves_the_whole_round_waiting(database: Database) -> None:
    outbox = await _outbox_with(database, 3)
    publisher = Recording()
    relay = OutboxRelay(database, outbox, publisher)
    publisher.refuse = True

    with pytest.raises(BusUnavailable):
        await relay.publish_pending()
    assert await _rows(database, outbox) == 3

    publisher.refuse = False
    assert await relay.publish_pending() == 3
    assert publisher.published == [0, 1, 2]


async def test_a_row_an_earlier_relay_marked_published_is_not_sent_again(database: Database) -> None:
    outbox = await _outbox_with(database, 3)
    table = outbox.table
    async with database.transaction() as conn:  # as the relay of a version before this one left it
        await conn.execute(update(table).where(table.c.position == 2).values(published_at=datetime.now(UTC)))
    publisher = Recording()

    assert await OutboxRelay(database, outbox, publisher).publish_pending() == 2
    assert publisher.published == [0, 2]


async def test_two_relays_side_by_side_send_each_event_once(pg_dsn: str) -> None:
    database = Database.from_dsn(pg_dsn)
    try:
        outbox = await _outbox_with(database, 40)
        publisher = Recording()
        relays = [OutboxRelay(database, outbox, publisher, batch_size=4) for _ in range(2)]
        sent = await asyncio.gather(*(relay.publish_pending() for relay in relays))
        assert sum(sent) == 40
        assert sorted(publisher.published) == list(range(40))
        assert await _rows(database, outbox) == 0
    finally:
        await database.dispose()


async def test_a_relay_woken_by_a_commit_as_it_is_stopped_stops(database: Database) -> None:
    """A commit in the same moment as the process stops (tests/stopping.py)."""
    outbox = await _outbox_with(database, 0)
    relay = OutboxRelay(database, outbox, Recording(), poll_seconds=30.0)
    assert await stops_when_woken_as_cancelled(relay.run(), outbox.notify), "the relay went on after it was cancelled"


async def test_events_another_process_wrote_go_out_at_the_next_poll(database: Database) -> None:
    """No commit of this process wakes the relay for them: its poll finds them (one statement on its
    own, and a relay round only when something waits)."""
    outbox = await _outbox_with(database, 0)
    publisher = Recording()
    relay = OutboxRelay(database, Outbox(outbox.table), publisher, poll_seconds=0.05)  # not the writer's
    running = asyncio.ensure_future(relay.run())
    try:
        await asyncio.sleep(0.2)  # a few idle polls first
        assert publisher.published == []
        uow = UnitOfWorkFactory(database, outbox, "identity")
        for n in range(3):
            async with uow() as work:
                work.emit_raw("identity.updated", {"n": n})
                await work.commit()
        async with asyncio.timeout(10):
            while len(publisher.published) < 3:
                await asyncio.sleep(0.02)
        assert publisher.published == [0, 1, 2]
        assert await _rows(database, outbox) == 0
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
