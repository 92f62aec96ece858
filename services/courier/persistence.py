"""Courier messages in SQL, the same code on PostgreSQL and SQLite, on the caller's connection.

Claiming is one conditional UPDATE per message (`… WHERE id = ? AND <still claimable>`): whoever's
UPDATE changes the row owns the message, so several couriers on one database never send it twice,
with no `SELECT … FOR UPDATE SKIP LOCKED` (which SQLite lacks)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.courier.domain import ABANDONED, PROCESSING, QUEUED, SENT, Dispatch, Message
from services.courier.tables import CourierTables


class MessageRepository:
    def __init__(self, tables: CourierTables) -> None:
        self.t = tables

    async def insert(self, conn: AsyncConnection, m: Message) -> None:
        await conn.execute(
            insert(self.t.messages).values(
                id=m.id,
                type="email" if m.channel == "email" else "phone",
                channel=m.channel,
                status=m.status,
                recipient=m.recipient,
                subject=m.subject,
                body=m.body,
                html_body=m.html_body,
                template_type=m.template_type,
                template_data=json.dumps(m.template_data, separators=(",", ":")),
                send_count=m.send_count,
                next_attempt_at=m.next_attempt_at,
                created_at=m.created_at,
                updated_at=m.updated_at,
            )
        )

    async def exists(self, conn: AsyncConnection, message_id: str) -> bool:
        c = self.t.messages.c
        return (await conn.execute(select(c.id).where(c.id == message_id))).first() is not None

    async def get(self, conn: AsyncConnection, message_id: str) -> Message | None:
        row = (await conn.execute(select(self.t.messages).where(self.t.messages.c.id == message_id))).first()
        if row is None:
            return None
        message = _message(row)
        d = self.t.dispatches.c
        rows = await conn.execute(
            select(self.t.dispatches).where(d.message_id == message_id).order_by(d.created_at.desc(), d.id.desc())
        )
        message.dispatches = [_dispatch(r) for r in rows]
        return message

    async def page(
        self,
        conn: AsyncConnection,
        *,
        size: int,
        after: tuple[datetime, str] | None,
        status: str | None = None,
        recipient: str | None = None,
    ) -> list[Message]:
        """Newest first, as Kratos lists them; `after` is the (created_at, id) of the last one seen."""
        c = self.t.messages.c
        conditions: list[Any] = []
        if status:
            conditions.append(c.status == status)
        if recipient:
            conditions.append(c.recipient == recipient)
        if after is not None:
            created, last_id = after
            conditions.append(or_(c.created_at < created, and_(c.created_at == created, c.id < last_id)))
        query = select(self.t.messages).where(*conditions).order_by(c.created_at.desc(), c.id.desc()).limit(size)
        return [_message(r) for r in await conn.execute(query)]

    async def due(self, conn: AsyncConnection, at: datetime, limit: int) -> list[str]:
        c = self.t.messages.c
        query = select(c.id).where(self._claimable(at)).order_by(c.next_attempt_at, c.id).limit(limit)
        return list((await conn.execute(query)).scalars())

    async def claim(
        self, conn: AsyncConnection, message_id: str, at: datetime, lease: timedelta, token: str
    ) -> Message | None:
        c = self.t.messages.c
        result = await conn.execute(
            update(self.t.messages)
            .where(c.id == message_id, self._claimable(at))
            .values(status=PROCESSING, claim_token=token, claimed_until=at + lease, updated_at=at)
        )
        if result.rowcount != 1:
            return None  # another courier was first
        row = (await conn.execute(select(self.t.messages).where(c.id == message_id))).first()
        return _message(row) if row is not None else None

    async def finish(
        self,
        conn: AsyncConnection,
        message: Message,
        token: str,
        at: datetime,
        *,
        error: dict[str, Any] | None,
        status: str,
        next_attempt_at: datetime | None = None,
    ) -> bool:
        """Records one attempt: the new status, one more send, and a dispatch row. False if the claim
        was lost meanwhile (its lease ran out and another courier took the message)."""
        c = self.t.messages.c
        values: dict[str, Any] = dict(
            status=status, send_count=c.send_count + 1, claim_token=None, claimed_until=None, updated_at=at
        )
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        result = await conn.execute(
            update(self.t.messages).where(c.id == message.id, c.claim_token == token).values(**values)
        )
        if result.rowcount != 1:
            return False
        await conn.execute(
            insert(self.t.dispatches).values(
                id=str(uuid.uuid4()),
                message_id=message.id,
                status="failed" if error else "success",
                error=json.dumps(error) if error else None,
                created_at=at,
                updated_at=at,
            )
        )
        return True

    async def release(self, conn: AsyncConnection, message_id: str, token: str, at: datetime) -> None:
        """Gives a claimed message back unsent (its courier is stopping)."""
        c = self.t.messages.c
        await conn.execute(
            update(self.t.messages)
            .where(c.id == message_id, c.claim_token == token)
            .values(status=QUEUED, claim_token=None, claimed_until=None, updated_at=at)
        )

    async def delete_finished(self, conn: AsyncConnection, before: datetime, batch: int) -> int:
        c = self.t.messages.c
        ids = list(
            (
                await conn.execute(
                    select(c.id).where(c.status.in_([SENT, ABANDONED]), c.updated_at < before).limit(batch)
                )
            ).scalars()
        )
        if ids:
            await conn.execute(delete(self.t.dispatches).where(self.t.dispatches.c.message_id.in_(ids)))
            await conn.execute(delete(self.t.messages).where(c.id.in_(ids)))
        return len(ids)

    def _claimable(self, at: datetime) -> Any:
        c = self.t.messages.c
        return or_(
            and_(c.status == QUEUED, c.next_attempt_at <= at), and_(c.status == PROCESSING, c.claimed_until < at)
        )


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _message(row: Row[Any]) -> Message:
    return Message(
        id=row.id,
        channel=row.channel,
        recipient=row.recipient,
        subject=row.subject,
        body=row.body,
        html_body=row.html_body,
        template_type=row.template_type,
        template_data=json.loads(row.template_data),
        status=row.status,
        send_count=row.send_count,
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
        next_attempt_at=_utc(row.next_attempt_at),
    )


def _dispatch(row: Row[Any]) -> Dispatch:
    return Dispatch(
        row.id,
        row.message_id,
        row.status,
        json.loads(row.error) if row.error else None,
        _utc(row.created_at),
        _utc(row.updated_at),
    )
