"""What the session service does when identities change: a deleted identity's sessions go, and any
change drops the identity's cached sessions so whoami shows the new traits and state."""

from __future__ import annotations

from sqlalchemy import Table

from services.session.manager import SessionManager
from shared.bus.envelope import Envelope
from shared.bus.events import IDENTITY_DELETED, IDENTITY_UPDATED
from shared.bus.inbox import idempotent
from shared.bus.ports import DurableQueue, Subscription
from shared.storage.uow import UnitOfWork, UnitOfWorkFactory

QUEUE = "session.identity-changes"
CONSUMES = DurableQueue(QUEUE, (IDENTITY_UPDATED.name, IDENTITY_DELETED.name))


def identity_changes(
    manager: SessionManager, uow: UnitOfWorkFactory, processed: Table, max_deliveries: int
) -> Subscription:
    async def work(unit: UnitOfWork, envelope: Envelope) -> None:
        deleted = envelope.type == IDENTITY_DELETED.name
        event = (IDENTITY_DELETED if deleted else IDENTITY_UPDATED).parse(envelope.data)
        stale = await manager.forget_identity(unit, event.identity_id, deleted=deleted)
        # Dropped before the commit: the cache is never the truth, so a miss now only costs a read.
        await manager.drop_cached(stale)

    handler = idempotent(uow, processed, QUEUE, work)
    return Subscription.of(CONSUMES, handler, max_deliveries)
