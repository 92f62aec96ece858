"""What the session service does when identities change: a deleted identity's sessions go, and any
change drops the identity's cached sessions so whoami shows the new traits and state. And when one
of its own sessions is revoked, its cached answer is dropped once more: the revocation drops it
right after its commit, but a process killed between the two leaves it behind, and the event,
written in the same transaction as the revocation, survives the crash."""

from __future__ import annotations

from sqlalchemy import Table

from services.session.manager import SessionManager
from shared.bus.envelope import Envelope
from shared.bus.events import IDENTITY_DELETED, IDENTITY_UPDATED, SESSION_REVOKED
from shared.bus.inbox import idempotent
from shared.bus.ports import DurableQueue, Subscription
from shared.storage.uow import UnitOfWork, UnitOfWorkFactory

QUEUE = "session.identity-changes"  # named before it took the revocations too: a rename orphans the queue
CONSUMES = DurableQueue(QUEUE, (IDENTITY_UPDATED.name, IDENTITY_DELETED.name, SESSION_REVOKED.name))


def identity_changes(
    manager: SessionManager, uow: UnitOfWorkFactory, processed: Table, max_deliveries: int
) -> Subscription:
    async def work(unit: UnitOfWork, envelope: Envelope) -> None:
        if envelope.type == SESSION_REVOKED.name:
            revoked = SESSION_REVOKED.parse(envelope.data)
            await manager.drop_cached(await manager.cache_keys_of(unit, revoked.session_id))
            return
        deleted = envelope.type == IDENTITY_DELETED.name
        event = (IDENTITY_DELETED if deleted else IDENTITY_UPDATED).parse(envelope.data)
        stale = await manager.forget_identity(unit, event.identity_id, deleted=deleted)
        # Dropped before the commit: the cache is never the truth, so a miss now only costs a read.
        await manager.drop_cached(stale)

    handler = idempotent(uow, processed, QUEUE, work)
    return Subscription.of(CONSUMES, handler, max_deliveries)
