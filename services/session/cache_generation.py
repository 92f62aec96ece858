"""The cache's generation, kept in the session database (finding 5 of the security review).

A revocation that cannot reach the cache leaves a stale entry there. Remembering that in memory is
not enough: the process may restart before the cache returns, and other replicas never knew. So a
failed drop advances this number in the database, and a session process trusts the cache only
while the generation stored in the cache equals the one in the database; when they differ it
clears every cached session, then stores the new generation in the cache.
"""

from __future__ import annotations

from sqlalchemy import Table, select, update

from shared.storage.uow import UnitOfWorkFactory

ROW = 1


class CacheGenerations:
    def __init__(self, uow: UnitOfWorkFactory, table: Table) -> None:
        self._uow = uow
        self._table = table

    async def current(self) -> int:
        async with self._uow.read() as conn:
            found = await conn.execute(select(self._table.c.generation).where(self._table.c.id == ROW))
            return int(found.scalar_one())

    async def advance(self) -> int:
        t = self._table
        async with self._uow() as uow:
            await uow.connection.execute(update(t).where(t.c.id == ROW).values(generation=t.c.generation + 1))
            found = await uow.connection.execute(select(t.c.generation).where(t.c.id == ROW))
            generation = int(found.scalar_one())
            await uow.commit()
        return generation
