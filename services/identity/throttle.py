"""Brute-force throttling of password checks (NIST SP 800-63B §5.2.2; findings 2 and 8 of the
security review). The policy, with its numbers (docs/security.md repeats them):

- Counted first per (identifier, client IP): FREE_FAILURES failures, then each further one blocks
  that pair for a doubling delay (1 s, 2 s, 4 s … up to MAX_BLOCK). The attacker's address is
  slowed; the owner's, elsewhere, is not.
- Also counted per identifier, across addresses. Past CEILING failures, a client with a recent
  failure on that identifier is refused until its failures are FORGET_AFTER old, and a client with
  none is only delayed (CEILING_DELAY before its check), never refused: a botnet gets one guess per
  address per FORGET_AFTER, the owner still signs in.
- A success clears the identifier and the pair. Counts are forgotten FORGET_AFTER after the last
  failure.

Every attempt is reserved before the hash runs: the count goes up and any block is set in one
transaction that holds the row, so concurrent guesses cannot all pass a check made before any of
them was recorded. Unknown identifiers are counted exactly like known ones (the throttle reveals no
account). Stored in the identity database, so a cache flush does not reset it; identifiers and
addresses are kept only as SHA-256 digests.
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, TextClause, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.identity.schemas.normalize import graceful
from shared.errors import TooManyRequests
from shared.storage.uow import UnitOfWorkFactory

FREE_FAILURES = 5
MAX_BLOCK_SECONDS = 15 * 60.0
CEILING = 20
CEILING_DELAY_SECONDS = 1.0
FORGET_AFTER_SECONDS = 60 * 60.0


def throttle_table(metadata: MetaData) -> Table:
    return Table(
        "identity_password_throttle",
        metadata,
        Column("key_hash", String(64), primary_key=True),
        Column("failures", Integer, nullable=False),
        Column("blocked_until", Float, nullable=True),  # Unix time
        Column("updated_at", Float, nullable=False),
    )


@dataclass(frozen=True)
class Reservation:
    identifier_key: str
    pair_key: str
    delay_seconds: float  # past the ceiling, a client with no recent failure waits this long


def _folded(identifier: str) -> str:
    """Look-alike spellings of one identifier share their counts."""
    return graceful(identifier.strip())


def identifier_key(identifier: str) -> str:
    return hashlib.sha256(b"identifier\0" + _folded(identifier).encode()).hexdigest()


def pair_key(identifier: str, client_ip: str | None) -> str:
    return hashlib.sha256(f"pair\0{_folded(identifier)}\0{client_ip or '-'}".encode()).hexdigest()


def _retry_after(seconds: float) -> TooManyRequests:
    return TooManyRequests(max(1, math.ceil(seconds)))


@dataclass(frozen=True)
class LoginThrottle:
    uow: UnitOfWorkFactory
    table: Table

    async def reserve(self, identifier: str, client_ip: str | None) -> Reservation:
        """Counts this attempt as a failure before it is checked (a success takes it back), or
        raises TooManyRequests with how long to wait."""
        ident, pair = identifier_key(identifier), pair_key(identifier, client_ip)
        now = time.time()
        async with self.uow() as uow:
            conn = uow.connection
            # Both counts in one statement (an upsert holds each row until the commit, so concurrent
            # reservations take turns); a blocked key is left as it is and not returned.
            counted = await conn.execute(self._count((pair, ident), now))
            failures = {row.key_hash: int(row.failures) for row in counted}
            if pair not in failures:
                await self._refuse_blocked(conn, pair, now)  # leaving without commit takes the counts back
            earlier = failures[pair] - 1
            over = earlier + 1 - FREE_FAILURES
            if over > 0:
                block = min(2.0 ** min(over - 1, 30), MAX_BLOCK_SECONDS)
                await conn.execute(
                    update(self.table).where(self.table.c.key_hash == pair).values(blocked_until=now + block)
                )
            if ident not in failures:
                await self._refuse_blocked(conn, ident, now)
            delay = 0.0
            if failures[ident] - 1 >= CEILING:
                if earlier > 0:  # a recent failure on this identifier from this client: refused
                    raise _retry_after(FORGET_AFTER_SECONDS)  # leaving without commit takes the counts back
                delay = CEILING_DELAY_SECONDS
            await uow.commit()
        return Reservation(ident, pair, delay)

    def _count(self, keys: tuple[str, str], now: float) -> Any:
        """Adds one failure under each key that is not blocked (inserting the keys seen for the
        first time); returns (key_hash, failures) of those counted. Failures older than
        FORGET_AFTER count as none."""
        return _upsert(self.table.name).bindparams(
            first=keys[0], second=keys[1], now=now, stale_before=now - FORGET_AFTER_SECONDS
        )

    async def _refuse_blocked(self, conn: AsyncConnection, key: str, now: float) -> NoReturn:
        blocked = (await conn.execute(select(self.table.c.blocked_until).where(self.table.c.key_hash == key))).first()
        raise _retry_after(((blocked.blocked_until if blocked else None) or now) - now)

    async def succeeded(self, reservation: Reservation) -> None:
        await self._delete(reservation.identifier_key, reservation.pair_key)

    async def clear(self, identifier: str, client_ip: str | None) -> None:
        await self._delete(identifier_key(identifier), pair_key(identifier, client_ip))

    async def _delete(self, *keys: str) -> None:
        t = self.table
        async with self.uow.read() as conn:  # one statement: its own transaction
            await conn.execute(t.delete().where(t.c.key_hash.in_(keys)))


@functools.cache
def _upsert(table: str) -> TextClause:
    """The counting upsert, as SQL that PostgreSQL (CockroachDB too) and SQLite read alike: SQLAlchemy
    compiles a multi-row VALUES anew at every execution, a text statement once."""
    return text(
        f"INSERT INTO {table} (key_hash, failures, blocked_until, updated_at) "
        "VALUES (:first, 1, NULL, :now), (:second, 1, NULL, :now) "
        "ON CONFLICT (key_hash) DO UPDATE SET "
        f"failures = CASE WHEN {table}.updated_at < :stale_before THEN 1 ELSE {table}.failures + 1 END, "
        "blocked_until = NULL, updated_at = :now "
        f"WHERE {table}.blocked_until IS NULL OR {table}.blocked_until <= :now OR {table}.updated_at < :stale_before "
        "RETURNING key_hash, failures"
    ).bindparams(bindparam("now", type_=Float), bindparam("stale_before", type_=Float))
