"""Each TOTP time step is accepted once per identity (Kratos accepts a code again within its window).

The last accepted step per identity lives in the self-service database, so the refusal holds across
processes and replicas; moving it forward is one conditional UPDATE (or the first INSERT), which the
database serialises: of two submissions of the same code exactly one moves it, the other is refused.
A step at or before the last accepted one is refused too, so an older code seen over a shoulder is
no use once a newer one has been entered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Table, insert, update
from sqlalchemy.exc import IntegrityError

from shared.storage.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class StepGuard:
    uow: UnitOfWorkFactory
    table: Table

    async def spend(self, identity_id: str, step: int) -> bool:
        """True if `step` had not been accepted for this identity and now is."""
        t = self.table
        values = {"step": step, "updated_at": datetime.now(UTC)}
        async with self.uow() as uow:
            moved = await uow.connection.execute(
                update(t).where(t.c.identity_id == identity_id, t.c.step < step).values(**values)
            )
            if moved.rowcount == 1:
                await uow.commit()
                return True
        try:
            async with self.uow() as uow:
                await uow.connection.execute(insert(t).values(identity_id=identity_id, **values))
                await uow.commit()
                return True
        except IntegrityError:
            return False  # a row exists at this step or later: a replay (or a concurrent twin that won)
