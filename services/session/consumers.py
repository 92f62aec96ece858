"""What the session service does when identities change: a deleted identity's sessions go, and any
change drops the identity's cached sessions so whoami shows the new traits and state."""

from __future__ import annotations

from sqlalchemy import Table

from services.session.manager import SessionManager
from shared.bus.envelope import Envelope
from shared.bus.inbox import idempotent
from shared.bus.ports import Subscription
from shared.storage.uow import UnitOfWork, UnitOfWorkFactory

QUEUE = "session.identity-changes"


def identity_changes(
    manager: SessionManager, uow: UnitOfWorkFactory, processed: Table, max_deliveries: int
) -> Subscription:
    async def work(unit: UnitOfWork, envelope: Envelope) -> None:
        identity_id = envelope.data.get("identity_id")
        if not identity_id:
            return
        stale = await manager.forget_identity(unit, identity_id, deleted=envelope.type == "identity.deleted")
        # Dropped before the commit: the cache is never the truth, so a miss now only costs a read.
        await manager.drop_cached(stale)

    handler = idempotent(uow, processed, QUEUE, work)
    return Subscription(QUEUE, ["identity.updated", "identity.deleted"], handler, max_deliveries)
