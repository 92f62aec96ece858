"""What turns bus messages into deliveries, each exactly once per envelope (the inbox table, and
delivery ids taken from the envelope):

- `courier.webhook.requested` (from self-service's web hooks): one delivery, whose id is the
  `Idempotency-Key` the flow's own call carried, or the envelope's id when there was no call;
- domain events a subscription asks for: one delivery per subscription, whose id is derived from
  the envelope's id and the subscription's, and whose body is the envelope itself. Only the
  catalogue's events are handed to subscribers, never its commands (see config.SUBSCRIBABLE).

Each delivery keeps the trace context the message arrived in (the flow's or the event's), so that
the dispatcher sends it inside that trace (shared.tracing.carrier); NULL when tracing is off."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import Table

from services.courier.webhooks.config import EventSubscription
from services.courier.webhooks.domain import EVENT, WEB_HOOK, Delivery
from services.courier.webhooks.persistence import DeliveryRepository
from shared.bus.envelope import Envelope
from shared.bus.events import COURIER_WEBHOOK_REQUESTED
from shared.bus.inbox import idempotent
from shared.bus.ports import DurableQueue, Subscription
from shared.storage.uow import UnitOfWork, UnitOfWorkFactory
from shared.tracing import carrier

WEBHOOKS_QUEUE = "courier.webhooks"
EVENT_SINK_QUEUE = "courier.event_sink"
WEBHOOKS = DurableQueue(WEBHOOKS_QUEUE, (COURIER_WEBHOOK_REQUESTED.name,))
_DELIVERY_IDS = uuid.UUID("6d1f4c36-3a0e-4e37-9a51-0b3f9f3f7a10")  # namespace of derived delivery ids


def webhook_requests(
    repository: DeliveryRepository,
    uow: UnitOfWorkFactory,
    processed: Table,
    max_deliveries: int,
    queued: Callable[[], None],
) -> Subscription:
    async def work(unit: UnitOfWork, envelope: Envelope) -> None:
        request = COURIER_WEBHOOK_REQUESTED.parse(envelope.data)
        await repository.add(
            unit.connection,
            Delivery(
                request.idempotency_key or envelope.id,
                WEB_HOOK,
                request.config_key,
                request.url,
                request.method,
                request.body,
                trace_context=carrier.current(),
            ),
        )

    return _subscription(WEBHOOKS, uow, processed, work, max_deliveries, queued)


def event_sink(
    subscriptions: list[EventSubscription],
    repository: DeliveryRepository,
    uow: UnitOfWorkFactory,
    processed: Table,
    max_deliveries: int,
    queued: Callable[[], None],
) -> Subscription | None:
    if not subscriptions:
        return None

    async def work(unit: UnitOfWork, envelope: Envelope) -> None:
        body = envelope.to_json().decode()
        trace_context = carrier.current()
        for s in subscriptions:
            if s.wants(envelope.type):
                delivery_id = str(uuid.uuid5(_DELIVERY_IDS, f"{envelope.id}/{s.id}"))
                await repository.add(
                    unit.connection,
                    Delivery(delivery_id, EVENT, s.id, s.url, "POST", body, envelope.type, trace_context=trace_context),
                )

    return _subscription(event_sink_queue(subscriptions), uow, processed, work, max_deliveries, queued)


def event_sink_queue(subscriptions: list[EventSubscription]) -> DurableQueue:
    """One queue for every configured event subscription, bound to what any of them wants."""
    return DurableQueue(EVENT_SINK_QUEUE, tuple(sorted({p for s in subscriptions for p in s.events})))


def _subscription(
    queue: DurableQueue,
    uow: UnitOfWorkFactory,
    processed: Table,
    work: Callable[[UnitOfWork, Envelope], object],
    max_deliveries: int,
    queued: Callable[[], None],
) -> Subscription:
    store = idempotent(uow, processed, queue.name, work)  # type: ignore[arg-type]

    async def handle(envelope: Envelope) -> None:
        await store(envelope)
        queued()  # after the commit, so the dispatcher finds the delivery

    return Subscription.of(queue, handle, max_deliveries)
