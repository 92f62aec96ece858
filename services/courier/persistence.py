"""Courier messages in SQL, the same code on PostgreSQL and SQLite, on the caller's connection.
Claims work as `claims.py` says."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Row, Table, bindparam, delete, exists, insert, select

from services.courier.claims import Claiming, ClaimQueue, newest_first, utc
from services.courier.domain import ABANDONED, SENT, Dispatch, Message
from services.courier.tables import CourierTables
from shared.storage.connection import Connection
from shared.storage.prebuilt import bound, insert_of
from shared.storage.uow import Write

_COLUMNS = (
    "id",
    "type",
    "channel",
    "status",
    "recipient",
    "subject",
    "body",
    "html_body",
    "template_type",
    "template_data",
    "send_count",
    "next_attempt_at",
    "created_at",
    "updated_at",
    "trace_context",
)


class MessageRepository(Claiming[Message]):
    def __init__(self, tables: CourierTables) -> None:
        self.t = tables
        self._claims = ClaimQueue(tables.messages, _message)
        self._insert = insert_of(tables.messages, "message", _COLUMNS)
        self._insert_new = _insert_unless_stored(tables.messages)

    async def insert(self, conn: Connection, m: Message) -> None:
        await conn.execute(self._insert, _row(m))

    def insert_new(self, m: Message) -> Write:
        """The INSERT of `m` unless a message with its id is stored already, for a unit of work to send
        with its other writes (one statement on PostgreSQL): a command delivered again stores nothing
        twice, without a read before the write."""
        return self._insert_new, _row(m)

    async def get(self, conn: Connection, message_id: str) -> Message | None:
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
        conn: Connection,
        *,
        size: int,
        after: tuple[datetime, str] | None,
        status: str | None = None,
        recipient: str | None = None,
    ) -> list[Message]:
        c = self.t.messages.c
        conditions: list[Any] = []
        if status:
            conditions.append(c.status == status)
        if recipient:
            conditions.append(c.recipient == recipient)
        rows = await newest_first(conn, self.t.messages, conditions, size=size, after=after)
        return [_message(r) for r in rows]

    async def finish(
        self,
        conn: Connection,
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
        if not await self._claims.settle(conn, message.id, token, at, status=status, next_attempt_at=next_attempt_at):
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

    async def finish_sent(self, conn: Connection, messages: list[Message], token: str, at: datetime) -> set[str]:
        """`finish` for a batch of messages that all went out: two statements, whatever its size."""
        kept = await self._claims.settle_sent(conn, [m.id for m in messages], token, at)
        if kept:
            await conn.execute(
                insert(self.t.dispatches),
                [
                    dict(id=str(uuid.uuid4()), message_id=m, status="success", error=None, created_at=at, updated_at=at)
                    for m in sorted(kept)
                ],
            )
        return kept

    async def delete_finished(self, conn: Connection, before: datetime, batch: int) -> int:
        c = self.t.messages.c
        ids: list[str] = list(
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


def _insert_unless_stored(messages: Table) -> Insert:
    """`INSERT INTO courier_messages (...) SELECT :message_id, ... WHERE NOT EXISTS (the same id)`,
    built once. The values are typed so that PostgreSQL casts them as it would in a VALUES list."""
    values = select(*(bindparam(f"message_{column}", type_=messages.c[column].type) for column in _COLUMNS))
    stored = exists().where(messages.c.id == bindparam("message_id", type_=messages.c.id.type))
    return insert(messages).from_select(list(_COLUMNS), values.where(~stored))


def _row(m: Message) -> dict[str, Any]:
    return bound(
        "message",
        {
            "id": m.id,
            "type": "email" if m.channel == "email" else "phone",
            "channel": m.channel,
            "status": m.status,
            "recipient": m.recipient,
            "subject": m.subject,
            "body": m.body,
            "html_body": m.html_body,
            "template_type": m.template_type,
            "template_data": json.dumps(m.template_data, separators=(",", ":")),
            "send_count": m.send_count,
            "next_attempt_at": m.next_attempt_at,
            "created_at": m.created_at,
            "updated_at": m.updated_at,
            "trace_context": m.trace_context,
        },
    )


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
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        next_attempt_at=utc(row.next_attempt_at),
        trace_context=row.trace_context,
    )


def _dispatch(row: Row[Any]) -> Dispatch:
    return Dispatch(
        row.id,
        row.message_id,
        row.status,
        json.loads(row.error) if row.error else None,
        utc(row.created_at),
        utc(row.updated_at),
    )
