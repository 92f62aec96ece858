"""The bus contract (`shared/bus/ports.py`), run against every adapter: the in-process bus and
RabbitMQ (a real broker, an exchange of the test's own, deleted afterwards)."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from shared.adapters.memory.bus import InMemoryBus
from shared.adapters.rabbitmq.bus import RabbitMqBus
from shared.bus.envelope import Envelope
from shared.bus.ports import Bus, DurableQueue, Handler, Subscription
from shared.errors import BusUnavailable, ServiceUnavailable
from shared.metrics import Metrics
from tests.conftest import eventually, unique
from tests.rabbit import delete_everything


@dataclass
class BusUnderTest:
    bus: Bus
    metrics: Metrics
    queues: set[str] = field(default_factory=set)

    def counted(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    async def subscribe(
        self, queue: str, keys: Sequence[str], handler: Handler, max_deliveries: int = 5, retry_base: float = 0.01
    ) -> None:
        self.queues.add(queue)
        await self.bus.subscribe(Subscription(queue, keys, handler, max_deliveries, retry_base_seconds=retry_base))

    async def publish(self, event_type: str, **data: object) -> Envelope:
        envelope = Envelope(type=event_type, source="test", data=dict(data))
        await self.bus.publish(envelope)
        return envelope


@pytest.fixture(params=["memory", "rabbitmq"])
async def under_test(request: pytest.FixtureRequest) -> AsyncIterator[BusUnderTest]:
    if request.param == "memory":
        metrics = Metrics()
        harness = BusUnderTest(InMemoryBus(metrics.bus), metrics)
        await harness.bus.connect()
        yield harness
        await harness.bus.close()
        return
    url, exchange = request.getfixturevalue("amqp_url"), request.getfixturevalue("exchange_name")
    metrics = Metrics()
    harness = BusUnderTest(RabbitMqBus(url, exchange, observer=metrics.bus), metrics)
    try:
        await harness.bus.connect()
        yield harness
    finally:
        await harness.bus.close()
        await delete_everything(url, exchange, sorted(harness.queues))


def recorder() -> tuple[list[Envelope], Handler]:
    received: list[Envelope] = []

    async def handle(envelope: Envelope) -> None:
        received.append(envelope)

    return received, handle


async def test_an_event_published_before_its_consumer_subscribes_waits_in_its_declared_queue(
    under_test: BusUnderTest,
) -> None:
    """A first deploy: the publishing service is up before the consuming one. RabbitMQ confirms a
    message it routes nowhere, so without the declared queue the outbox would delete it, lost."""
    under_test.queues.add("late")
    await under_test.bus.declare([DurableQueue("late", ("thing.happened",))], 5)
    sent = await under_test.publish("thing.happened", n=1)
    ignored = await under_test.publish("thing.ignored", n=2)  # bound to no queue: goes nowhere
    received, handle = recorder()
    await under_test.subscribe("late", ["thing.happened"], handle)
    await eventually(lambda: received)
    await asyncio.sleep(0.2)
    assert [e.id for e in received] == [sent.id] and ignored.id not in {e.id for e in received}


async def test_a_published_event_reaches_its_subscriber(under_test: BusUnderTest) -> None:
    received, handle = recorder()
    await under_test.subscribe("identity", ["identity.created"], handle)

    sent = await under_test.publish("identity.created", id="a")

    await eventually(lambda: received)
    assert [e.id for e in received] == [sent.id]


async def test_the_envelope_round_trips(under_test: BusUnderTest) -> None:
    received, handle = recorder()
    await under_test.subscribe("roundtrip", ["#"], handle)
    sent = Envelope(
        type="identity.updated",
        source="identity",
        data={"id": "7f1c", "traits": {"email": "zoë@example.org", "tags": [1, 2.5, None, True]}},
        occurred_at=datetime(2024, 5, 17, 9, 30, 12, 345678, tzinfo=UTC),
    )

    await under_test.bus.publish(sent)

    await eventually(lambda: received)
    assert received == [sent]
    got = received[0]
    assert (got.id, got.type, got.source, got.occurred_at, got.data) == (
        sent.id,
        sent.type,
        sent.source,
        sent.occurred_at,
        sent.data,
    )


async def test_topic_patterns_route_matching_keys_only(under_test: BusUnderTest) -> None:
    star, handle_star = recorder()
    everything, handle_everything = recorder()
    exact, handle_exact = recorder()
    await under_test.subscribe("star", ["identity.*"], handle_star)
    await under_test.subscribe("everything", ["#"], handle_everything)
    await under_test.subscribe("exact", ["session.revoked"], handle_exact)

    for event_type in [
        "identity.created",
        "identity.credentials.changed",
        "session.revoked",
        "session.issued",
        "courier.message.requested",
        "identities.created",
    ]:
        await under_test.publish(event_type)
    # Markers last: once a queue's marker is in, anything routed to it before has been handled.
    await under_test.publish("identity.marker", marker=True)
    await under_test.publish("session.revoked", marker=True)

    def markers(received: list[Envelope]) -> int:
        return sum(1 for e in received if e.data.get("marker"))

    await eventually(lambda: markers(star) == 1 and markers(exact) == 1 and markers(everything) == 2)
    assert [e.type for e in star] == ["identity.created", "identity.marker"]
    assert [e.type for e in exact] == ["session.revoked", "session.revoked"]
    assert len(everything) == 8


async def test_different_queues_each_get_a_copy(under_test: BusUnderTest) -> None:
    first, handle_first = recorder()
    second, handle_second = recorder()
    await under_test.subscribe("session", ["identity.#"], handle_first)
    await under_test.subscribe("courier", ["identity.#"], handle_second)

    sent = [await under_test.publish("identity.deleted", n=n) for n in range(5)]

    await eventually(lambda: len(first) == 5 and len(second) == 5)
    assert {e.id for e in first} == {e.id for e in second} == {e.id for e in sent}


async def test_a_queue_subscribed_later_gets_the_events_published_after_it(under_test: BusUnderTest) -> None:
    """A routing key already delivered somewhere is routed again once a new queue or pattern binds."""
    first, handle_first = recorder()
    later, handle_later = recorder()
    more, handle_more = recorder()
    await under_test.subscribe("first", ["identity.deleted"], handle_first)
    await under_test.publish("identity.deleted", n=1)
    await eventually(lambda: len(first) == 1)

    await under_test.subscribe("later", ["identity.*"], handle_later)
    await under_test.subscribe("more", ["session.revoked"], handle_more)
    await under_test.subscribe("more", ["identity.deleted"], handle_more)  # a second pattern on a known queue
    await under_test.publish("identity.deleted", n=2)

    await eventually(lambda: len(first) == 2 and len(later) == 1 and len(more) == 1)
    assert [e.data["n"] for e in later] == [2] and [e.data["n"] for e in more] == [2]


async def test_subscribers_on_the_same_queue_share_the_work(under_test: BusUnderTest) -> None:
    handled: collections.Counter[str] = collections.Counter()

    async def handle(envelope: Envelope) -> None:
        handled[envelope.id] += 1

    await under_test.subscribe("workers", ["identity.created"], handle)
    await under_test.subscribe("workers", ["identity.created"], handle)

    sent = [await under_test.publish("identity.created", n=n) for n in range(20)]
    marker = await under_test.publish("identity.created", marker=True)

    await eventually(lambda: sum(handled.values()) >= 21 and marker.id in handled)
    del handled[marker.id]
    assert set(handled) == {e.id for e in sent}
    assert set(handled.values()) == {1}


async def test_a_failing_handler_gets_the_message_again_until_it_succeeds(under_test: BusUnderTest) -> None:
    attempts: list[str] = []
    done: list[str] = []

    async def flaky(envelope: Envelope) -> None:
        attempts.append(envelope.id)
        if len(attempts) < 3:
            raise RuntimeError("not yet")
        done.append(envelope.id)

    await under_test.subscribe("flaky", ["identity.updated"], flaky, max_deliveries=5)
    sent = await under_test.publish("identity.updated")

    await eventually(lambda: done)
    assert attempts == [sent.id] * 3
    assert done == [sent.id]
    assert await under_test.bus.dead_letters("flaky") == []


async def test_retries_back_off_and_do_not_hold_up_other_messages(under_test: BusUnderTest) -> None:
    seen: list[tuple[str, float]] = []
    loop = asyncio.get_running_loop()

    async def fails_twice_on_poison(envelope: Envelope) -> None:
        seen.append((envelope.data["name"], loop.time()))
        if envelope.data["name"] == "poison" and sum(1 for n, _ in seen if n == "poison") < 3:
            raise RuntimeError("not yet")

    await under_test.subscribe("backoff", ["identity.updated"], fails_twice_on_poison, retry_base=0.2)
    await under_test.publish("identity.updated", name="poison")
    await under_test.publish("identity.updated", name="healthy")

    await eventually(lambda: sum(1 for n, _ in seen if n == "poison") == 3)
    poison = [t for n, t in seen if n == "poison"]
    healthy = [t for n, t in seen if n == "healthy"]
    assert poison[1] - poison[0] >= 0.18 and poison[2] - poison[1] >= 0.38, "the delay doubles"
    assert healthy and healthy[0] < poison[1], "the healthy message did not wait for the poison's retries"


async def test_an_always_failing_message_is_dead_lettered_after_max_deliveries(under_test: BusUnderTest) -> None:
    attempts: list[str] = []

    async def broken(envelope: Envelope) -> None:
        attempts.append(envelope.id)
        raise RuntimeError("always")

    await under_test.subscribe("broken", ["identity.deleted"], broken, max_deliveries=3)
    sent = await under_test.publish("identity.deleted", id="x")

    assert await first_dead_letters(under_test, "broken") == [sent]
    assert attempts == [sent.id] * 3
    assert await under_test.bus.dead_letters("broken") == []


async def test_dead_letters_of_an_unknown_queue_is_empty(under_test: BusUnderTest) -> None:
    assert await under_test.bus.dead_letters(unique("nobody")) == []


async def test_publish_after_close_is_unavailable_and_close_is_idempotent(under_test: BusUnderTest) -> None:
    assert await under_test.bus.healthy()

    await under_test.bus.close()
    await under_test.bus.close()

    assert not await under_test.bus.healthy()
    with pytest.raises(BusUnavailable):
        await under_test.publish("identity.created")


async def test_transient_subscriptions_each_get_a_copy_and_a_failure_is_dropped(under_test: BusUnderTest) -> None:
    first, record_first = recorder()
    second, record_second = recorder()
    calls: list[str] = []

    async def failing(envelope: Envelope) -> None:
        calls.append(envelope.id)
        raise RuntimeError("a watcher's handler failed")

    for queue, handler in (
        (unique("live-a"), record_first),
        (unique("live-b"), record_second),
        (unique("live-c"), failing),
    ):
        await under_test.bus.subscribe(Subscription(queue, ["session.revoked"], handler, transient=True))
    sent = await under_test.publish("session.revoked", session_id="s1")
    await eventually(lambda: len(first) == 1 and len(second) == 1 and len(calls) == 1)
    await asyncio.sleep(0.2)  # time enough for a retry, which must not come
    assert [e.id for e in first] == [e.id for e in second] == calls == [sent.id]


async def test_the_bus_counts_publishes_deliveries_redeliveries_and_dead_letters(under_test: BusUnderTest) -> None:
    failures: collections.Counter[str] = collections.Counter()

    async def fails_first_or_always(envelope: Envelope) -> None:
        failures[envelope.id] += 1
        if envelope.data.get("always") or failures[envelope.id] == 1:
            raise RuntimeError("not this time")

    await under_test.subscribe("metered", ["metered.*"], fails_first_or_always, max_deliveries=2)
    assert under_test.counted("warden_bus_dead_lettered_total", queue="metered") == 0, "present from the start"
    await under_test.publish("metered.once")
    await under_test.publish("metered.always", always=True)

    await eventually(lambda: under_test.counted("warden_bus_dead_lettered_total", queue="metered") == 1)
    await eventually(lambda: under_test.counted("warden_bus_consumed_total", queue="metered", outcome="ok") == 1)
    assert under_test.counted("warden_bus_published_total", type="metered.once") == 1
    assert under_test.counted("warden_bus_published_total", type="metered.always") == 1
    assert under_test.counted("warden_bus_consumed_total", queue="metered", outcome="failed") == 3
    assert under_test.counted("warden_bus_redelivered_total", queue="metered") == 2
    # The metric counts the final nack; the broker routes the message to the dead-letter queue after it.
    assert [e.type for e in await first_dead_letters(under_test, "metered")] == ["metered.always"]


async def first_dead_letters(under_test: BusUnderTest, queue: str) -> list[Envelope]:
    """Drains `queue`'s dead letters once some have arrived: the broker moves them there on its own time."""
    dead: list[Envelope] = []

    async def drained() -> bool:
        dead.extend(await under_test.bus.dead_letters(queue))
        return bool(dead)

    await eventually(drained)
    return dead


async def test_an_outage_of_what_the_handler_needs_pauses_it_without_using_up_deliveries(
    under_test: BusUnderTest,
) -> None:
    """A fellow service restarting for longer than the retries of a faulty event would take: the
    event waits for it instead of going to the dead-letter queue (a verification mail never sent)."""
    calls: list[float] = []
    handled: list[Envelope] = []

    async def handle(envelope: Envelope) -> None:
        calls.append(asyncio.get_running_loop().time())
        if len(calls) <= 6:
            raise ServiceUnavailable("the identity service is restarting")
        handled.append(envelope)

    await under_test.subscribe("outage", ["thing.*"], handle, max_deliveries=2)
    sent = await under_test.publish("thing.happened")
    await eventually(lambda: handled)
    assert [e.id for e in handled] == [sent.id] and len(calls) == 7
    assert calls[-1] - calls[-2] > calls[1] - calls[0], "each try waits longer"
    assert await under_test.bus.dead_letters("outage") == []


async def test_a_failure_of_the_event_itself_still_ends_in_the_dead_letter_queue(under_test: BusUnderTest) -> None:
    async def handle(envelope: Envelope) -> None:
        raise ValueError("a bug, or data no retry mends")

    await under_test.subscribe("faulty", ["thing.*"], handle, max_deliveries=2)
    sent = await under_test.publish("thing.happened")
    dead = await eventually(lambda: under_test.bus.dead_letters("faulty"))
    assert [e.id for e in dead] == [sent.id]


async def test_closing_lets_a_handler_in_flight_finish(under_test: BusUnderTest) -> None:
    """A stopping process: what a handler already started is done, not cut off (in the embedded
    mode the event lives only in the process once the outbox has handed it over)."""
    started, done = asyncio.Event(), []

    async def handle(envelope: Envelope) -> None:
        started.set()
        await asyncio.sleep(0.3)
        done.append(envelope.id)

    await under_test.subscribe("finishing", ["thing.*"], handle)
    sent = await under_test.publish("thing.happened")
    await asyncio.wait_for(started.wait(), 5)
    await under_test.bus.close()
    assert done == [sent.id]
