"""Web hook deliveries in SQL (PostgreSQL and SQLite alike), on the caller's connection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from services.courier.claims import ABANDONED, QUEUED, SENT, Claiming, ClaimQueue, newest_first, utc
from services.courier.tables import CourierTables
from services.courier.webhooks.domain import Delivery
from shared.storage.connection import Connection


class DeliveryRepository(Claiming[Delivery]):
    def __init__(self, tables: CourierTables) -> None:
        self.table = tables.webhooks
        self._claims = ClaimQueue(self.table, _delivery)

    async def add(self, conn: Connection, d: Delivery) -> bool:
        """Stores a new delivery; False if one with its id exists (the command came again)."""
        if await self.get(conn, d.id) is not None:
            return False
        await conn.execute(
            insert(self.table).values(
                id=d.id,
                kind=d.kind,
                target=d.target,
                event_type=d.event_type,
                url=d.url,
                method=d.method,
                body=d.body,
                status=d.status,
                send_count=d.send_count,
                next_attempt_at=d.next_attempt_at,
                created_at=d.created_at,
                updated_at=d.updated_at,
                trace_context=d.trace_context,
            )
        )
        return True

    async def get(self, conn: Connection, delivery_id: str) -> Delivery | None:
        row = (await conn.execute(select(self.table).where(self.table.c.id == delivery_id))).first()
        return _delivery(row) if row is not None else None

    async def page(
        self, conn: Connection, *, size: int, after: tuple[datetime, str] | None, status: str | None
    ) -> list[Delivery]:
        conditions = [self.table.c.status == status] if status else []
        return [_delivery(r) for r in await newest_first(conn, self.table, conditions, size=size, after=after)]

    async def retry(self, conn: Connection, delivery_id: str, at: datetime) -> bool:
        """An abandoned delivery gets a fresh set of attempts, the first one now."""
        c = self.table.c
        result = await conn.execute(
            update(self.table)
            .where(c.id == delivery_id, c.status == ABANDONED)
            .values(status=QUEUED, send_count=0, next_attempt_at=at, updated_at=at)
        )
        return result.rowcount == 1

    async def finish_sent(self, conn: Connection, deliveries: list[Delivery], token: str, at: datetime) -> set[str]:
        """`finish` for a batch of deliveries that all went through, in one statement."""
        return await self._claims.settle_sent(conn, [d.id for d in deliveries], token, at, last_error=None)

    async def finish(
        self,
        conn: Connection,
        delivery: Delivery,
        token: str,
        at: datetime,
        *,
        error: dict[str, Any] | None,
        status: str,
        next_attempt_at: datetime | None = None,
    ) -> bool:
        last_error = str(error["message"]) if error else None
        return await self._claims.settle(
            conn, delivery.id, token, at, status=status, next_attempt_at=next_attempt_at, last_error=last_error
        )

    async def delete_finished(self, conn: Connection, before: datetime, batch: int) -> int:
        """Deletes up to `batch` deliveries delivered or abandoned before `before`. Checked again as
        each row goes: one an operator retries meanwhile is queued again, and stays."""
        c = self.table.c
        finished = (c.status.in_([SENT, ABANDONED]), c.updated_at < before)
        picked = select(c.id).where(*finished).limit(batch).scalar_subquery()
        return (await conn.execute(delete(self.table).where(c.id.in_(picked), *finished))).rowcount


def _delivery(row: Row[Any]) -> Delivery:
    return Delivery(
        id=row.id,
        kind=row.kind,
        target=row.target,
        url=row.url,
        method=row.method,
        body=row.body,
        event_type=row.event_type,
        status=row.status,
        send_count=row.send_count,
        last_error=row.last_error,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        next_attempt_at=utc(row.next_attempt_at),
        trace_context=row.trace_context,
    )
