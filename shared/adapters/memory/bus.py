"""In-process bus for the embedded mode and fast tests: same semantics as RabbitMQ, no broker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from shared.bus.envelope import Envelope
from shared.bus.outage import handled_through_outages
from shared.bus.ports import BusObserver, DurableQueue, Subscription, Unobserved, topic_matches
from shared.errors import BusUnavailable
from shared.tracing import carrier

log = logging.getLogger(__name__)


@dataclass
class _Queue:
    name: str
    max_deliveries: int
    patterns: set[str] = field(default_factory=set)
    # (envelope, delivery number, the publisher's trace context: what a broker's headers would carry)
    pending: asyncio.Queue[tuple[Envelope, int, str | None]] = field(default_factory=asyncio.Queue)
    dead: list[Envelope] = field(default_factory=list)
    workers: list[asyncio.Task[None]] = field(default_factory=list)


# How long `close` lets the handlers finish what was already published (RabbitMQ's adapter waits as
# long for its handlers in flight): the in-process queues die with the process.
CLOSE_GRACE_SECONDS = 5.0


class InMemoryBus:
    def __init__(self, observer: BusObserver | None = None) -> None:
        self._queues: dict[str, _Queue] = {}
        # The queues each routing key goes to, found once: the topics are few, the events many.
        self._routes: dict[str, list[_Queue]] = {}
        self._closed = False
        self._observer = observer or Unobserved()

    async def connect(self) -> None:
        self._closed = False

    async def declare(self, queues: Sequence[DurableQueue], max_deliveries: int) -> None:
        for queue in queues:
            self._queue(queue.name, max_deliveries).patterns.update(queue.routing_keys)
        self._routes.clear()

    def _queue(self, name: str, max_deliveries: int) -> _Queue:
        """The queue of this name, made on first use: events routed to it wait for its consumer."""
        return self._queues.setdefault(name, _Queue(name, max_deliveries))

    async def publish(self, envelope: Envelope) -> None:
        if self._closed:
            raise BusUnavailable("the in-process bus is closed")
        trace_context = carrier.current()
        for queue in self._route(envelope.routing_key):
            queue.pending.put_nowait((envelope, 1, trace_context))
        self._observer.published(envelope)

    def _route(self, routing_key: str) -> list[_Queue]:
        queues = self._routes.get(routing_key)
        if queues is None:
            queues = self._routes[routing_key] = [
                queue for queue in self._queues.values() if any(topic_matches(p, routing_key) for p in queue.patterns)
            ]
        return queues

    async def subscribe(self, subscription: Subscription) -> None:
        queue = self._queue(subscription.queue, subscription.max_deliveries)
        queue.patterns.update(subscription.routing_keys)
        self._routes.clear()  # a new queue or pattern: routes are found again
        queue.workers.append(asyncio.create_task(self._work(queue, subscription)))
        self._observer.subscribed(subscription.observed_as)

    async def _work(self, queue: _Queue, subscription: Subscription) -> None:
        observed = subscription.observed_as
        while True:
            envelope, delivery, trace_context = await queue.pending.get()
            if delivery > 1:
                self._observer.redelivered(observed)
            try:
                await self._handle(queue, subscription, envelope, delivery, trace_context)
            finally:
                queue.pending.task_done()

    async def _handle(
        self, queue: _Queue, subscription: Subscription, envelope: Envelope, delivery: int, trace_context: str | None
    ) -> None:
        observed = subscription.observed_as
        try:
            with carrier.resumed(trace_context):
                await handled_through_outages(subscription, envelope)
        except asyncio.CancelledError:
            queue.pending.put_nowait((envelope, delivery, trace_context))
            raise
        except Exception:
            log.exception("handler failed", extra={"queue": queue.name, "event_id": envelope.id})
            self._observer.consumed(observed, ok=False)
            if subscription.transient:
                return  # a live feed: dropped, never retried
            if delivery >= queue.max_deliveries:
                queue.dead.append(envelope)
                self._observer.dead_lettered(observed)
            else:
                # Scheduled, not slept: a failing message must not hold up the ones behind it.
                asyncio.get_running_loop().call_later(
                    subscription.retry_delay(delivery),
                    queue.pending.put_nowait,
                    (envelope, delivery + 1, trace_context),
                )
        else:
            self._observer.consumed(observed, ok=True)

    async def dead_letters(self, queue: str) -> list[Envelope]:
        found = self._queues.get(queue)
        if found is None:
            return []
        dead, found.dead = found.dead, []
        return dead

    async def healthy(self) -> bool:
        return not self._closed

    async def close(self) -> None:
        """Refuses new events, lets the consumers finish those already published (for up to
        CLOSE_GRACE_SECONDS: an event taken off the outbox lives only here), then stops them."""
        self._closed = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_GRACE_SECONDS):
                for queue in self._queues.values():
                    if queue.workers:
                        await queue.pending.join()
        for queue in self._queues.values():
            for task in queue.workers:
                task.cancel()
            await asyncio.gather(*queue.workers, return_exceptions=True)
            queue.workers.clear()
