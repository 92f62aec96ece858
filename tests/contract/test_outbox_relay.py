"""The outbox relay on both engines: events go out in the order they were written, each once, in
rounds of its batch size; a failed publish leaves the whole round waiting; and on PostgreSQL two
relays side by side never send an event twice (the claim skips the rows another one holds)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import MetaData, func, select

from shared.bus.envelope import Envelope
from shared.bus.outbox import Outbox, OutboxRelay
from shared.errors import BusUnavailable
from shared.storage import migrations
from shared.storage.database import Database
from shared.storage.tables import outbox_table
from shared.storage.uow import UnitOfWorkFactory
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


async def _waiting(database: Database, outbox: Outbox) -> int:
    async with database.connect() as conn:
        query = select(func.count()).where(outbox.table.c.published_at.is_(None))
        return int((await conn.execute(query)).scalar_one())


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
    assert await _waiting(database, outbox) == 0
    assert await relay.publish_pending() == 0
    assert publisher.published == list(range(8))


async def test_a_failed_publish_leaves_the_whole_round_waiting(database: Database) -> None:
    outbox = await _outbox_with(database, 3)
    publisher = Recording()
    relay = OutboxRelay(database, outbox, publisher)
    publisher.refuse = True

    with pytest.raises(BusUnavailable):
        await relay.publish_pending()
    assert await _waiting(database, outbox) == 3

    publisher.refuse = False
    assert await relay.publish_pending() == 3
    assert publisher.published == [0, 1, 2]


async def test_two_relays_side_by_side_send_each_event_once(pg_dsn: str) -> None:
    database = Database.from_dsn(pg_dsn)
    try:
        outbox = await _outbox_with(database, 40)
        publisher = Recording()
        relays = [OutboxRelay(database, outbox, publisher, batch_size=4) for _ in range(2)]
        sent = await asyncio.gather(*(relay.publish_pending() for relay in relays))
        assert sum(sent) == 40
        assert sorted(publisher.published) == list(range(40))
        assert await _waiting(database, outbox) == 0
    finally:
        await database.dispose()
