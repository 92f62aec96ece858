"""Batch import (`PATCH /admin/identities`): one bad item never stops the others.

Every item is validated (and its password hashed) first. The valid ones are then stored in one
transaction, which is what makes imports fast; if that transaction meets a conflict, the items are
stored one by one instead so each gets its own answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.identity.domain import Identity
from services.identity.errors import IdentityConflict
from services.identity.manager import IdentityInput, IdentityManager
from shared.errors import WardenError
from shared.storage.uow import UnitOfWorkFactory

Outcome = Identity | WardenError


async def create_many(
    manager: IdentityManager, uow: UnitOfWorkFactory, items: Sequence[IdentityInput | WardenError]
) -> list[Outcome]:
    outcomes: list[Outcome] = [await _prepare(manager, item) for item in items]
    ready = [o for o in outcomes if isinstance(o, Identity)]
    try:
        if ready:
            async with uow() as work:
                await manager.store_new(work, *ready)
                await work.commit()
        return outcomes
    except IdentityConflict:
        pass
    return [await _store_alone(manager, uow, o) if isinstance(o, Identity) else o for o in outcomes]


async def _prepare(manager: IdentityManager, item: IdentityInput | WardenError) -> Outcome:
    if isinstance(item, WardenError):
        return item
    try:
        return await manager.prepare_new(item)
    except WardenError as error:
        return error


async def _store_alone(manager: IdentityManager, uow: UnitOfWorkFactory, identity: Identity) -> Outcome:
    try:
        async with uow() as work:
            await manager.store_new(work, identity)
            await work.commit()
        return identity
    except IdentityConflict as error:
        return error
