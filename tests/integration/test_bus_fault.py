"""The outbox and the idempotent consumer across a broker outage, on PostgreSQL and RabbitMQ.

A TCP proxy of the test's own sits between both buses and RabbitMQ; cutting it drops every
connection and refuses new ones, which is what a broker restart or a network split looks like to
the client. Every committed event must then arrive exactly once (by its side effect), the rolled
back one never, and the outbox must drain.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pamqp import commands, frame
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from yarl import URL

from shared.adapters.rabbitmq.bus import RabbitMqBus
from shared.bus.envelope import Envelope
from shared.bus.inbox import idempotent
from shared.bus.outbox import Outbox, OutboxRelay
from shared.bus.ports import DurableQueue, Subscription
from shared.errors import BusUnavailable, ConfigError
from shared.storage.database import Database
from shared.storage.migrations import MigrationSet, upgrade
from shared.storage.tables import outbox_table, processed_events_table
from shared.storage.uow import UnitOfWork, UnitOfWorkFactory
from tests.conftest import eventually, free_port
from tests.rabbit import delete_everything
from tests.tcp_proxy import TcpProxy

MIGRATIONS = MigrationSet("identity", Path(__file__).resolve().parents[2] / "services/identity/migrations")
QUEUE = "fault"
# A method frame's payload opens with its class and method ids: basic (60), consume (20).
BASIC_CONSUME = bytes([0, 60, 0, 20])
CONNECTION_CLOSED_WITH_INTERNAL_ERROR = frame.marshal(
    commands.Connection.Close(reply_code=541, reply_text="INTERNAL_ERROR", class_id=60, method_id=20), 0
)

# The consumer's side effect: one row per time its work ran (no unique key, so duplicates show).
received = Table(
    "fault_received",
    MetaData(),
    Column("n", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
)


class FailureCounter:
    """The relay's publisher, counting how often the broker turned it away."""

    def __init__(self, bus: RabbitMqBus) -> None:
        self._bus = bus
        self.count = 0

    async def publish(self, envelope: Envelope) -> None:
        try:
            await self._bus.publish(envelope)
        except BusUnavailable:
            self.count += 1
            raise


@pytest.fixture
async def database(pg_dsn: str) -> AsyncIterator[Database]:
    db = Database.from_dsn(pg_dsn)
    await upgrade(db, MIGRATIONS)
    async with db.sqlalchemy_connection() as conn:
        await conn.run_sync(received.metadata.create_all)
        await conn.commit()
    yield db
    await db.dispose()


@pytest.fixture
async def proxy(amqp_url: str) -> AsyncIterator[TcpProxy]:
    proxied = TcpProxy(URL(amqp_url).port or 5672)
    await proxied.start()
    yield proxied
    await proxied.cut()


@pytest.fixture
async def broker_cleanup(amqp_url: str, exchange_name: str) -> AsyncIterator[None]:
    yield
    await delete_everything(amqp_url, exchange_name, [QUEUE])


def through(proxy: TcpProxy, amqp_url: str) -> str:
    # Reconnect quickly so the test does not wait out aio-pika's default 5 s.
    return str(URL(amqp_url).with_port(proxy.port).with_query(reconnect_interval="0.3"))


async def record(uow: UnitOfWork, envelope: Envelope) -> None:
    await uow.connection.execute(insert(received).values(event_id=envelope.id))


async def received_ids(database: Database) -> list[str]:
    async with database.connect() as conn:
        return list((await conn.execute(select(received.c.event_id))).scalars())


async def unpublished(database: Database, outbox: Outbox) -> int:
    table = outbox.table
    async with database.connect() as conn:
        query = select(func.count()).select_from(table).where(table.c.published_at.is_(None))
        return (await conn.execute(query)).scalar_one()


async def outbox_ids(database: Database, outbox: Outbox) -> set[str]:
    async with database.connect() as conn:
        return set((await conn.execute(select(outbox.table.c.id))).scalars())


async def commit_events(uow_factory: UnitOfWorkFactory, count: int, batch: str) -> list[str]:
    ids = []
    for n in range(count):
        async with uow_factory() as uow:
            ids.append(uow.emit_raw("identity.updated", {"batch": batch, "n": n}).id)
            await uow.commit()
    return ids


async def test_every_committed_event_arrives_once_across_a_broker_outage(
    database: Database, proxy: TcpProxy, amqp_url: str, exchange_name: str, broker_cleanup: None
) -> None:
    outbox = Outbox(outbox_table(MetaData(), "identity"))
    uow_factory = UnitOfWorkFactory(database, outbox, "identity")
    processed = processed_events_table(MetaData(), "identity")
    publisher = RabbitMqBus(through(proxy, amqp_url), exchange_name)
    consumer = RabbitMqBus(through(proxy, amqp_url), exchange_name)
    failures = FailureCounter(publisher)
    relay = OutboxRelay(database, outbox, failures, poll_seconds=0.2, max_backoff_seconds=1.0)
    await publisher.connect()
    await consumer.connect()
    await consumer.subscribe(Subscription(QUEUE, ["identity.#"], idempotent(uow_factory, processed, QUEUE, record)))
    relaying = asyncio.create_task(relay.run())
    try:
        before = await commit_events(uow_factory, 10, "before")
        await eventually(lambda: _has_all(database, before))
        in_flight = await commit_events(uow_factory, 5, "in-flight")

        await proxy.cut()
        await eventually(lambda: _all_down(publisher, consumer))
        during = await commit_events(uow_factory, 10, "during")
        async with uow_factory() as uow:
            rolled_back = uow.emit_raw("identity.updated", {"batch": "rolled back"}).id
        # Hold the outage until the relay has been turned away a few times (and the buses' reconnects
        # with it), so the retry paths really run.
        await eventually(lambda: failures.count >= 3)
        waiting = await outbox_ids(database, outbox)
        assert set(during) <= waiting, "the events committed during the outage wait in the outbox"
        assert rolled_back not in waiting, "the rolled-back unit of work left nothing in the outbox"
        assert not await publisher.healthy() and not await consumer.healthy()
        connections_before_restore = proxy.connections

        await proxy.start()
        committed = before + in_flight + during
        await eventually(lambda: _has_all(database, committed), timeout=30)
        await eventually(lambda: _outbox_drained(database, outbox), timeout=10)

        ids = await received_ids(database)
        assert sorted(ids) == sorted(committed), "each committed event's side effect exactly once"
        assert rolled_back not in ids
        assert not await outbox_ids(database, outbox), "a published event leaves no row behind"
        assert proxy.connections >= connections_before_restore + 2, "both buses reconnected through the proxy"
        assert await publisher.healthy() and await consumer.healthy()
    finally:
        relaying.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relaying
        await publisher.close()
        await consumer.close()


async def test_a_redelivered_event_applies_its_side_effect_once(
    database: Database, amqp_url: str, exchange_name: str, broker_cleanup: None
) -> None:
    outbox = Outbox(outbox_table(MetaData(), "identity"))
    uow_factory = UnitOfWorkFactory(database, outbox, "identity")
    handler = idempotent(uow_factory, processed_events_table(MetaData(), "identity"), QUEUE, record)
    deliveries: list[str] = []

    async def counted(envelope: Envelope) -> None:
        await handler(envelope)
        deliveries.append(envelope.id)

    bus = RabbitMqBus(amqp_url, exchange_name)
    await bus.connect()
    try:
        await bus.subscribe(Subscription(QUEUE, ["identity.#"], counted))
        envelope = Envelope(type="identity.deleted", source="identity", data={"id": "x"})
        await bus.publish(envelope)
        await bus.publish(envelope)  # what a relay that lost a confirm does
        await eventually(lambda: len(deliveries) == 2)
        racing = Envelope(type="identity.deleted", source="identity", data={"id": "y"})
        await asyncio.gather(handler(racing), handler(racing))  # two replicas handed the same event at once

        assert sorted(await received_ids(database)) == sorted([envelope.id, racing.id])
    finally:
        await bus.close()


async def test_publish_gives_up_on_a_broker_that_stops_answering(
    proxy: TcpProxy, amqp_url: str, exchange_name: str, broker_cleanup: None
) -> None:
    bus = RabbitMqBus(through(proxy, amqp_url), exchange_name, timeout=0.5)
    await bus.connect()
    try:
        proxy.stalled = True
        started = asyncio.get_running_loop().time()
        with pytest.raises(BusUnavailable):
            await bus.publish(Envelope(type="identity.created", source="identity", data={}))
        assert asyncio.get_running_loop().time() - started < 2
    finally:
        await proxy.cut()  # else close() waits out aiormq's own close timeout on the stalled socket
        await bus.close()


async def test_a_subscription_is_made_again_when_the_broker_closes_the_connection_in_answer_to_it(
    proxy: TcpProxy, amqp_url: str, exchange_name: str, broker_cleanup: None
) -> None:
    """RabbitMQ answers a `basic.consume` on a quorum queue that is not ready yet with a connection
    error (541 INTERNAL_ERROR): the service must come up subscribed, not exit."""
    proxy.answer_once(BASIC_CONSUME, CONNECTION_CLOSED_WITH_INTERNAL_ERROR)
    bus = RabbitMqBus(through(proxy, amqp_url), exchange_name)
    await bus.connect()
    got: list[Envelope] = []

    async def handler(envelope: Envelope) -> None:
        got.append(envelope)

    try:
        await bus.subscribe(Subscription(QUEUE, ["identity.updated"], handler))
        assert proxy.answered == 1, "the broker's refusal was never sent"
        sent = Envelope(type="identity.updated", source="identity", data={"n": 1})
        await bus.publish(sent)
        await eventually(lambda: got)
        assert got == [sent]
    finally:
        await bus.close()


async def test_connecting_to_no_broker_is_unavailable(exchange_name: str) -> None:
    bus = RabbitMqBus(f"amqp://guest:guest@127.0.0.1:{free_port()}/", exchange_name)
    with pytest.raises(BusUnavailable):
        await bus.connect()
    assert not await bus.healthy()
    await bus.close()


async def _has_all(database: Database, ids: list[str]) -> bool:
    return set(ids) <= set(await received_ids(database))


async def _outbox_drained(database: Database, outbox: Outbox) -> bool:
    return await unpublished(database, outbox) == 0


async def _all_down(*buses: RabbitMqBus) -> bool:
    return not any([await bus.healthy() for bus in buses])


async def test_a_broker_that_comes_back_empty_gets_the_queues_before_anything_is_published(
    amqp_vhost: str, exchange_name: str
) -> None:
    """A new broker node, or one whose data was lost (RabbitMQ keeps nothing Warden cannot
    declare again): the publisher reconnects first and must not publish into a broker that has no
    queue for its events yet, which would confirm them and drop them."""
    import subprocess

    vhost = URL(amqp_vhost).path.lstrip("/")
    publisher = RabbitMqBus(str(URL(amqp_vhost).with_query(reconnect_interval="0.3")), exchange_name)
    consumer = RabbitMqBus(str(URL(amqp_vhost).with_query(reconnect_interval="3")), exchange_name)
    got: list[str] = []

    async def handle(envelope: Envelope) -> None:
        got.append(envelope.id)

    await publisher.connect()
    await consumer.connect()
    try:
        await publisher.declare([DurableQueue(QUEUE, ("fault.*",))], 5)
        await consumer.subscribe(Subscription(QUEUE, ["fault.*"], handle))
        ctl = ["rabbitmqctl", "-q"]
        subprocess.run([*ctl, "delete_vhost", vhost], check=True, capture_output=True)
        subprocess.run([*ctl, "add_vhost", vhost], check=True, capture_output=True)
        subprocess.run(
            [*ctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True, capture_output=True
        )
        sent = []
        async with asyncio.timeout(20):
            while len(sent) < 5:  # as the relay does: each publish the broker confirms is deleted
                try:
                    sent.append((await _publish(publisher)).id)
                except BusUnavailable:
                    await asyncio.sleep(0.1)
        await eventually(lambda: set(sent) <= set(got), timeout=20)
    finally:
        await publisher.close()
        await consumer.close()


async def _publish(bus: RabbitMqBus) -> Envelope:
    envelope = Envelope(type="fault.happened", source="test", data={})
    await bus.publish(envelope)
    return envelope


async def test_a_changed_max_deliveries_fails_start_up_naming_the_setting(amqp_url: str, exchange_name: str) -> None:
    """RabbitMQ fixes a quorum queue's delivery limit when the queue is made: a later start with
    another `bus.max_deliveries` cannot declare it, and must say so in words an operator can act on."""
    first, second = RabbitMqBus(amqp_url, exchange_name), RabbitMqBus(amqp_url, exchange_name)
    await first.connect()
    await second.connect()
    try:
        await first.declare([DurableQueue("limits", ("fault.*",))], 5)
        with pytest.raises(ConfigError, match=r"^bus\.max_deliveries: .*delete those queues once they are empty"):
            await second.declare([DurableQueue("limits", ("fault.*",))], 6)
    finally:
        await first.close()
        await second.close()
        await delete_everything(amqp_url, exchange_name, ["limits"])
