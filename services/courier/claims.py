"""Claiming rows to send, the same way for courier messages and web hook deliveries, on the caller's
connection and the same on PostgreSQL and SQLite.

A row is due when `queued` and its `next_attempt_at` has come, or when `processing` and its
claim's lease ran out (its courier died mid-send). A batch is claimed with one conditional UPDATE
(`… WHERE id IN (<the due rows>) AND <still claimable> RETURNING …`): whoever's UPDATE changes a
row owns it, so several couriers on one database never send it twice. On PostgreSQL, the pick of
the due rows also locks them with `FOR UPDATE SKIP LOCKED`, so two couriers picking at the same
moment take different rows instead of one waiting for (and then losing) the other's; SQLite has
one writer, and no such clause (SQLAlchemy leaves it out there). The dispatcher claims what is due
in that one statement, on its own (`claim_due`): an idle courier polls every second, and a poll
that is one statement costs the database one round trip, not a BEGIN, a SELECT and a COMMIT. Settling a claim checks the token, so a courier that lost
its lease cannot overwrite the one that took over."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import Row, Table, and_, bindparam, or_, select, update

from shared.storage.connection import Connection

QUEUED, PROCESSING, SENT, ABANDONED = "queued", "processing", "sent", "abandoned"
STATUSES = (QUEUED, PROCESSING, SENT, ABANDONED)
T = TypeVar("T")


def utc(value: datetime) -> datetime:
    """SQLite hands timestamps back naive; they were written in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class ClaimQueue(Generic[T]):
    def __init__(self, table: Table, load: Callable[[Row[Any]], T]) -> None:
        self.table = table
        self._load = load
        self._prebuilt: dict[int, Any] = {}

    def claimable(self, at: Any) -> Any:
        c = self.table.c
        return or_(
            and_(c.status == QUEUED, c.next_attempt_at <= at), and_(c.status == PROCESSING, c.claimed_until < at)
        )

    def _due(self, at: Any, limit: int) -> Any:
        """The ids of the oldest due rows, locked against other couriers' picks (PostgreSQL)."""
        c = self.table.c
        query = select(c.id).where(self.claimable(at)).order_by(c.next_attempt_at, c.id).limit(limit)
        return query.with_for_update(skip_locked=True)

    async def due(self, conn: Connection, at: datetime, limit: int) -> list[str]:
        return list((await conn.execute(self._due(at, limit))).scalars())

    async def claim(self, conn: Connection, row_ids: list[str], at: datetime, lease: timedelta, token: str) -> list[T]:
        """The rows of `row_ids` this call won, in id order; those another courier took first are left out."""
        if not row_ids:
            return []
        return await self._claimed(conn, row_ids, at, lease, token)

    async def claim_due(self, conn: Connection, at: datetime, limit: int, lease: timedelta, token: str) -> list[T]:
        """Up to `limit` of the oldest due rows, claimed in one statement; in id order. The pick is a
        WITH, not an `IN (SELECT …)`: PostgreSQL runs a WITH once, but may run an IN's sub-select
        again for each candidate row (a nested loop semi join; BUG #15715), and each run skips the
        rows the UPDATE already changed and locks the next ones, so one poll took every due row."""
        values = {"claim_at": at, "claim_until": at + lease, "claim_token": token}
        result = await conn.execute(self._claiming_due(limit), values)
        return [self._load(row) for row in sorted(result, key=lambda row: str(row.id))]

    def _claiming_due(self, limit: int) -> Any:
        """`claim_due`'s statement, built once per batch size with its values as bind parameters: an
        idle courier runs it every second, and building it (a CTE, an UPDATE, its RETURNING) and
        keying it anew cost more than the round trip."""
        statement = self._prebuilt.get(limit)
        if statement is None:
            c, at = self.table.c, bindparam("claim_at", type_=self.table.c.next_attempt_at.type)
            due = self._due(at, limit).cte("due")
            statement = self._prebuilt[limit] = (
                update(self.table)
                .where(c.id.in_(select(due.c.id)), self.claimable(at))
                .values(
                    status=PROCESSING,
                    claim_token=bindparam("claim_token"),
                    claimed_until=bindparam("claim_until"),
                    updated_at=at,
                )
                .returning(*self.table.c)
            )
        return statement

    async def _claimed(self, conn: Connection, which: Any, at: datetime, lease: timedelta, token: str) -> list[T]:
        c = self.table.c
        result = await conn.execute(
            update(self.table)
            .where(c.id.in_(which), self.claimable(at))
            .values(status=PROCESSING, claim_token=token, claimed_until=at + lease, updated_at=at)
            .returning(*self.table.c)
        )
        return [self._load(row) for row in sorted(result, key=lambda row: str(row.id))]

    async def settle(
        self,
        conn: Connection,
        row_id: str,
        token: str,
        at: datetime,
        *,
        status: str,
        next_attempt_at: datetime | None,
        **values: Any,
    ) -> bool:
        """Records one attempt (one more send, the new status); False if the claim was lost meanwhile."""
        c = self.table.c
        changes: dict[str, Any] = dict(
            status=status, send_count=c.send_count + 1, claim_token=None, claimed_until=None, updated_at=at, **values
        )
        if next_attempt_at is not None:
            changes["next_attempt_at"] = next_attempt_at
        result = await conn.execute(update(self.table).where(c.id == row_id, c.claim_token == token).values(**changes))
        return result.rowcount == 1

    async def settle_sent(
        self, conn: Connection, row_ids: list[str], token: str, at: datetime, **values: Any
    ) -> set[str]:
        """Records a batch of successful sends in one statement; the ids whose claim still held."""
        c = self.table.c
        result = await conn.execute(
            update(self.table)
            .where(c.id.in_(row_ids), c.claim_token == token)
            .values(
                status=SENT, send_count=c.send_count + 1, claim_token=None, claimed_until=None, updated_at=at, **values
            )
            .returning(c.id)
        )
        return {str(row_id) for row_id in result.scalars()}

    async def release(self, conn: Connection, row_id: str, token: str, at: datetime) -> None:
        """Gives a claimed row back unsent (its courier is stopping)."""
        c = self.table.c
        await conn.execute(
            update(self.table)
            .where(c.id == row_id, c.claim_token == token)
            .values(status=QUEUED, claim_token=None, claimed_until=None, updated_at=at)
        )


class Claiming(Generic[T]):
    """The part of a repository the dispatcher claims through; the repository adds `finish`."""

    _claims: ClaimQueue[T]

    async def due(self, conn: Connection, at: datetime, limit: int) -> list[str]:
        return await self._claims.due(conn, at, limit)

    async def claim(self, conn: Connection, row_ids: list[str], at: datetime, lease: timedelta, token: str) -> list[T]:
        return await self._claims.claim(conn, row_ids, at, lease, token)

    async def claim_due(self, conn: Connection, at: datetime, limit: int, lease: timedelta, token: str) -> list[T]:
        return await self._claims.claim_due(conn, at, limit, lease, token)

    async def release(self, conn: Connection, row_id: str, token: str, at: datetime) -> None:
        await self._claims.release(conn, row_id, token, at)


async def newest_first(
    conn: Connection,
    table: Table,
    conditions: list[Any],
    *,
    size: int,
    after: tuple[datetime, str] | None,
) -> list[Row[Any]]:
    """One page of rows, newest first, as Kratos lists messages; `after` is the (created_at, id) of
    the last row seen."""
    c = table.c
    if after is not None:
        created, last_id = after
        conditions = [*conditions, or_(c.created_at < created, and_(c.created_at == created, c.id < last_id))]
    query = select(table).where(*conditions).order_by(c.created_at.desc(), c.id.desc()).limit(size)
    return list(await conn.execute(query))
