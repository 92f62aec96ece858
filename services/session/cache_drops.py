"""The drops of a process's own cache, kept in the session database for the other processes.

With `cache.url: memory` every process has a cache of its own. Replicas of `warden serve` on one
database each answer whoami from theirs: a logout, a revocation or an identity's change handled by
one replica (where its load balancer sent it) would drop the session from that replica's cache
alone, and the others would go on answering with it until `cache.session_ttl` passes (5 minutes).
So a process-local cache writes each drop here too, and every such process reads the drops written
since it last looked, once a second (`SessionCache.run_repairs`), and drops them from its own cache:
a revoked session is answered from another replica's cache for about a second at most. A shared
cache (Redis) needs none of this: a drop there is seen by every process.

A drop older than `cache.session_ttl` is of no use to anyone (whatever was cached before it has
expired since), so the rows older than that are deleted as the processes poll.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Table, delete, func, insert, or_, select

from services.session.domain import now
from shared.storage.uow import UnitOfWorkFactory

MAX_READ = 10_000  # drops read in one poll; the rest at the next
# Positions are taken in one order and committed in another: a position missing below one already
# read may be a drop still being committed, looked for again at this many polls before it is given up
# (a rolled-back insert leaves its position unused for ever).
HOLE_POLLS = 30
MAX_HOLES = 1000


class CacheDrops:
    """The table, and where this process is in reading it (one instance per process)."""

    def __init__(self, uow: UnitOfWorkFactory, table: Table) -> None:
        self._uow = uow
        self._table = table
        self._read = 0  # the highest position read
        self._holes: dict[int, int] = {}  # positions below it not seen yet, with the polls they have left

    async def record(self, digests: Sequence[str]) -> None:
        if not digests:
            return
        at = now()
        async with self._uow.read() as conn:  # one statement, committed by itself
            await conn.execute(insert(self._table).values([{"token_hash": d, "dropped_at": at} for d in digests]))

    async def start(self) -> None:
        """Reads from the newest drop on: a new cache holds nothing an earlier drop concerns."""
        async with self._uow.read() as conn:
            found = await conn.execute(select(func.max(self._table.c.position)))
            self._read = int(found.scalar_one() or 0)

    async def new(self) -> list[str]:
        """The token hashes dropped since the last call."""
        t = self._table
        wanted = t.c.position > self._read
        if self._holes:
            wanted = or_(wanted, t.c.position.in_(list(self._holes)))
        async with self._uow.read() as conn:
            query = select(t.c.position, t.c.token_hash).where(wanted).order_by(t.c.position).limit(MAX_READ)
            rows = (await conn.execute(query)).all()
        seen = {row.position for row in rows}
        self._holes = {p: left - 1 for p, left in self._holes.items() if p not in seen and left > 1}
        newest = max(seen, default=self._read)
        gaps = range(max(self._read + 1, newest - MAX_HOLES), newest)
        self._holes.update((p, HOLE_POLLS) for p in gaps if p not in seen and len(self._holes) < MAX_HOLES)
        self._read = max(self._read, newest)
        return [row.token_hash for row in rows]

    async def forget(self, before: datetime) -> None:
        """Deletes the drops of before `before`, all but the newest: SQLite numbers a new row one past
        the highest left (the table has no AUTOINCREMENT), and a drop numbered below the positions
        every process has read would be read by none of them."""
        t = self._table
        async with self._uow.read() as conn:
            newest = select(func.max(t.c.position)).scalar_subquery()
            await conn.execute(delete(t).where(t.c.dropped_at < before, t.c.position < newest))
