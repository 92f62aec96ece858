"""Idempotent consumers: a handler's work and the record that the event was processed commit in
one transaction, so a redelivered event (after a crash before the ack) is recognised and skipped.

The record is written with the work's own writes, and the event's key in it is what recognises a
second delivery: that write fails on the key and the whole change rolls back, and the handler is
done. No read comes first, so a handler whose work only writes (`UnitOfWork.write`) costs one
round trip on PostgreSQL (its writes and the record as one statement), not a transaction of six.
A redelivery, rare, does the work once more before it is found out; that work must therefore keep
its effects outside the database idempotent (dropping a cache entry is), or wait for the commit
(`UnitOfWork.after_commit`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, delete, select, tuple_
from sqlalchemy.exc import IntegrityError

from shared.bus.envelope import Envelope
from shared.bus.ports import Handler
from shared.storage.database import Database
from shared.storage.prebuilt import bound, insert_of
from shared.storage.uow import UnitOfWork, UnitOfWorkFactory

# How long the record of a processed event is kept (`warden cleanup` deletes older ones). A second
# delivery comes within minutes of the first: a message left unacknowledged when its channel closed,
# or a retry after its backoff. A week is far past both.
PROCESSED_RETENTION = timedelta(days=7)

WorkHandler = Callable[[UnitOfWork, Envelope], Awaitable[None]]


def idempotent(uow_factory: UnitOfWorkFactory, processed: Table, queue: str, work: WorkHandler) -> Handler:
    record = insert_of(processed, "processed", ("event_id", "queue", "processed_at"))

    async def already_processed(envelope: Envelope) -> bool:
        async with uow_factory.read() as conn:
            found = await conn.execute(
                select(processed.c.event_id).where(processed.c.event_id == envelope.id, processed.c.queue == queue)
            )
            return found.first() is not None

    async def handle(envelope: Envelope) -> None:
        try:
            async with uow_factory() as uow:
                await work(uow, envelope)
                uow.write(
                    record,
                    bound("processed", {"event_id": envelope.id, "queue": queue, "processed_at": datetime.now(UTC)}),
                )
                await uow.commit()
        except IntegrityError:
            # Processed before (the record's key), or by another consumer at the same moment; any
            # other integrity error is the handler's own and must be retried.
            if not await already_processed(envelope):
                raise

    return handle


async def prune_processed(database: Database, batch: int, expired_before: datetime, *, processed: Table) -> int:
    """Deletes up to `batch` records of events processed PROCESSED_RETENTION before `expired_before`
    (`warden cleanup`'s cut-off: now, less `database.cleanup.older_than`)."""
    before = expired_before - PROCESSED_RETENTION
    key = tuple_(processed.c.event_id, processed.c.queue)
    old = select(processed.c.event_id, processed.c.queue).where(processed.c.processed_at < before).limit(batch)
    async with database.transaction() as conn:
        return (await conn.execute(delete(processed).where(key.in_(old)))).rowcount
