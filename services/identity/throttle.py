"""Brute-force throttling of password checks, per identifier (NIST SP 800-63B §5.2.2).

Counted per identifier, not per identity: an unknown identifier is throttled exactly like a known
one, so the throttle says nothing about which accounts exist. After FREE_FAILURES consecutive
failures each further one blocks the identifier for a doubling delay (1 s, 2 s, 4 s … capped at
MAX_BLOCK), which keeps an online guesser far under 100 guesses a day without letting an attacker
lock a user out for long. Stored in the identity database, so a cache flush does not reset it; a
success clears it. Identifiers are kept only as SHA-256 digests: not secrets, but not worth keeping
in clear either.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from shared.errors import TooManyRequests
from shared.storage.uow import UnitOfWorkFactory

FREE_FAILURES = 5
MAX_BLOCK = timedelta(minutes=15)


def throttle_table(metadata: MetaData) -> Table:
    return Table(
        "identity_login_throttle",
        metadata,
        Column("identifier_hash", String(64), primary_key=True),
        Column("failures", Integer, nullable=False),
        Column("blocked_until", DateTime(timezone=True), nullable=True),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class LoginThrottle:
    uow: UnitOfWorkFactory
    table: Table

    @staticmethod
    def key(identifier: str) -> str:
        return hashlib.sha256(identifier.strip().lower().encode()).hexdigest()

    async def check(self, identifier: str) -> None:
        """Raises TooManyRequests while the identifier is blocked."""
        async with self.uow() as uow:
            row = (
                await uow.connection.execute(
                    select(self.table).where(self.table.c.identifier_hash == self.key(identifier))
                )
            ).first()
        blocked_until = _utc(row.blocked_until) if row else None
        if blocked_until is not None and blocked_until > _now():
            raise TooManyRequests(max(1, int((blocked_until - _now()).total_seconds() + 0.999)))

    async def failed(self, identifier: str) -> None:
        for _ in range(2):
            try:
                return await self._count_failure(self.key(identifier))
            except IntegrityError:
                continue  # a concurrent first failure inserted the row: count this one on top of it

    async def _count_failure(self, key: str) -> None:
        t = self.table
        async with self.uow() as uow:
            conn = uow.connection
            row = (await conn.execute(select(t.c.failures).where(t.c.identifier_hash == key))).first()
            failures = (row.failures if row else 0) + 1
            over = failures - FREE_FAILURES
            blocked = _now() + min(timedelta(seconds=2 ** min(over - 1, 20)), MAX_BLOCK) if over > 0 else None
            values = {"failures": failures, "blocked_until": blocked, "updated_at": _now()}
            if row is None:
                await conn.execute(insert(t).values(identifier_hash=key, **values))
            else:
                await conn.execute(update(t).where(t.c.identifier_hash == key).values(**values))
            await uow.commit()

    async def succeeded(self, identifier: str) -> None:
        async with self.uow() as uow:
            await uow.connection.execute(delete(self.table).where(self.table.c.identifier_hash == self.key(identifier)))
            await uow.commit()
