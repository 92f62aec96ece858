"""Idempotent consumers: a handler's work and the record that the event was processed commit in
one transaction, so a redelivered event (after a crash before the ack) is recognised and skipped.
The check that it was processed before runs in that same transaction, first: one transaction per
event, not two (each costs its BEGIN and its end in round trips to the database)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError

from shared.bus.envelope import Envelope
from shared.bus.ports import Handler
from shared.storage.uow import UnitOfWork, UnitOfWorkFactory

WorkHandler = Callable[[UnitOfWork, Envelope], Awaitable[None]]


def idempotent(uow_factory: UnitOfWorkFactory, processed: Table, queue: str, work: WorkHandler) -> Handler:
    async def seen(uow: UnitOfWork, envelope: Envelope) -> bool:
        found = await uow.connection.execute(
            select(processed.c.event_id).where(processed.c.event_id == envelope.id, processed.c.queue == queue)
        )
        return found.first() is not None

    async def already_processed(envelope: Envelope) -> bool:
        async with uow_factory() as uow:
            return await seen(uow, envelope)

    async def handle(envelope: Envelope) -> None:
        try:
            async with uow_factory() as uow:
                if await seen(uow, envelope):
                    return  # leaving without commit rolls back: nothing was written
                await work(uow, envelope)
                await uow.connection.execute(
                    insert(processed).values(event_id=envelope.id, queue=queue, processed_at=datetime.now(UTC))
                )
                await uow.commit()
        except IntegrityError:
            # Another consumer may have processed the same event at the same moment and committed
            # first; any other integrity error is the handler's own and must be retried.
            if not await already_processed(envelope):
                raise

    return handle
