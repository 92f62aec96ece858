"""The courier's consumer: each `courier.message.requested` command becomes one stored, rendered,
queued message, exactly once per envelope id (the inbox table, and the message id taken from it)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Table

from services.courier.commands import MESSAGE_REQUESTED, MessageRequest
from services.courier.domain import Message
from services.courier.persistence import MessageRepository
from services.courier.render.renderer import Renderer
from shared.bus.envelope import Envelope
from shared.bus.inbox import idempotent
from shared.bus.ports import DurableQueue, Subscription
from shared.metrics.courier import CourierMetrics
from shared.storage.uow import UnitOfWork, UnitOfWorkFactory
from shared.tracing import carrier

QUEUE = "courier.messages"
CONSUMES = DurableQueue(QUEUE, (MESSAGE_REQUESTED,))
log = logging.getLogger(__name__)


def message_requests(
    renderer: Renderer,
    repository: MessageRepository,
    uow: UnitOfWorkFactory,
    processed: Table,
    max_deliveries: int,
    queued: Callable[[], None],
    counted: CourierMetrics,
) -> Subscription:
    async def work(unit: UnitOfWork, envelope: Envelope) -> None:
        request = MessageRequest.from_envelope(envelope)
        rendered = renderer.render(request)
        unit.write(
            *repository.insert_new(
                Message(
                    id=request.message_id,
                    channel=request.channel,
                    recipient=request.recipient,
                    subject=rendered.subject,
                    body=rendered.body,
                    html_body=rendered.html_body,
                    template_type=request.template_type,
                    template_data=request.template_data,
                    trace_context=carrier.current(),
                )
            )
        )

        def stored() -> None:
            counted.queued.labels(request.channel).inc()
            log.info(
                "courier: queued %s message %s",
                request.template_type,
                request.message_id,
                extra={"channel": request.channel},
            )

        unit.after_commit(stored)

    store = idempotent(uow, processed, QUEUE, work)

    async def handle(envelope: Envelope) -> None:
        await store(envelope)
        queued()  # after the commit, so the dispatcher finds the message

    return Subscription.of(CONSUMES, handle, max_deliveries)
