"""Transactional outbox: events are rows written in the same transaction as the change that raised
them; a relay publishes them with confirms and deletes them. A rolled-back change leaves no event; a
broker outage leaves the rows waiting until the relay gets through again. The table holds only what
waits: nothing reads an event once it is published (the bus, and the consumers' inboxes, take over).

Each row also keeps the trace context of the request that wrote it, and the relay publishes it in
that context: the message (whose headers the aio-pika instrumentation fills) continues the request's
trace, however long after the request the broker took it."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind
from sqlalchemy import Insert, Row, Table, delete, exists, func, insert, select
from sqlalchemy.sql.dml import ReturningDelete

from shared.bus.envelope import Envelope
from shared.bus.ports import Publisher
from shared.errors import BusUnavailable
from shared.storage.database import Database
from shared.storage.prebuilt import bound, insert_of
from shared.tracing import carrier
from shared.tracing.spans import tracer

log = logging.getLogger(__name__)
EVENT_COLUMNS = ("id", "type", "source", "occurred_at", "data", "trace_context")
# After a wake-up, the relay waits this long so that the commits of the moment go out in one round
# (a transaction of three round trips, whatever the number of events). At 0.05 s a round carried two
# or three logins' events and the relays took a fifth of the event loop under login load; events are
# asynchronous by nature, and a fifth of a second more before a consumer sees one changes no answer.
LINGER_SECONDS = 0.2


class Outbox:
    def __init__(self, table: Table) -> None:
        self.table = table
        self._written = asyncio.Event()
        self._insert_one = insert_of(table, "event", EVENT_COLUMNS)

    def statement(self, events: Sequence[Envelope]) -> tuple[Insert, dict[str, Any]]:
        """The INSERT of `events` and its parameters (a unit of work may send it as part of a bigger
        one), with the trace they were raised in. One event, the common case, takes a statement
        built once; several are one multi-row VALUES with the values inside."""
        trace_context = carrier.current()
        rows = [
            {
                "id": e.id,
                "type": e.type,
                "source": e.source,
                "occurred_at": e.occurred_at,
                "data": json.dumps(e.data, separators=(",", ":")),
                "trace_context": trace_context,
            }
            for e in events
        ]
        if len(rows) == 1:
            return self._insert_one, bound("event", rows[0])
        return insert(self.table).values(rows), {}

    def notify(self) -> None:
        """Called after a commit that wrote events: wakes the relay without waiting for its poll."""
        self._written.set()

    async def wait(self, timeout: float) -> bool:
        """True when woken by `notify`, False after `timeout`. (asyncio.timeout, not wait_for: Python
        3.11's wait_for loses a cancellation that comes as the wait ends, a commit at shutdown, and
        the relay never stopped.)"""
        try:
            async with asyncio.timeout(timeout):
                await self._written.wait()
        except TimeoutError:
            return False
        finally:
            self._written.clear()
        return True


class OutboxRelay:
    def __init__(
        self,
        database: Database,
        outbox: Outbox,
        publisher: Publisher,
        *,
        batch_size: int = 100,
        poll_seconds: float = 1.0,
        max_backoff_seconds: float = 10.0,
    ) -> None:
        self._db = database
        self._outbox = outbox
        self._publisher = publisher
        self._batch_size = batch_size
        self._poll = poll_seconds
        self._max_backoff = max_backoff_seconds
        self._claim = _claim(outbox.table, batch_size)
        self._any_waiting = select(exists().where(outbox.table.c.published_at.is_(None)))

    async def publish_pending(self) -> int:
        """Publishes waiting events in order until none is left; returns how many went out."""
        total = 0
        while True:
            sent = await self._publish_batch()
            total += sent
            if sent < self._batch_size:
                return total

    async def _publish_batch(self) -> int:
        # A poll is no one's journey: its queries make no trace. Each event's publishing joins the
        # trace of the request that wrote it instead (`_publish`).
        with suppress_instrumentation():
            async with self._db.transaction() as conn:
                # Deleted before they are published, in the transaction that commits only once all
                # of them were: a failed publish rolls the deletion back, and the rows wait.
                rows = (await conn.execute(self._claim)).all()
                for row in sorted(rows, key=lambda row: row.position):  # RETURNING keeps no order
                    await self._publish(row)
                return len(rows)

    async def _publish(self, row: Row[Any]) -> None:
        envelope = _envelope(row)
        with carrier.resumed(row.trace_context) as traced:
            if not traced:
                await self._publisher.publish(envelope)
                return
            with tracer("warden.outbox").start_as_current_span(
                f"{envelope.type} publish",
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.operation.type": "publish",
                    "messaging.destination.name": envelope.routing_key,
                    "messaging.message.id": envelope.id,
                    "warden.event.source": envelope.source,
                },
            ):
                await self._publisher.publish(envelope)

    async def backlog(self) -> tuple[int, float]:
        """How many events wait to be published, and the age in seconds of the oldest (for metrics)."""
        table = self._outbox.table
        async with self._db.connect() as conn:
            count, oldest = (
                await conn.execute(
                    select(func.count(), func.min(table.c.occurred_at)).where(table.c.published_at.is_(None))
                )
            ).one()
        if oldest is None:
            return 0, 0.0
        if oldest.tzinfo is None:  # SQLite hands timestamps back naive; they were written in UTC
            oldest = oldest.replace(tzinfo=UTC)
        return int(count), max(0.0, (datetime.now(UTC) - oldest).total_seconds())

    async def run(self) -> None:
        backoff = self._poll
        woken = True  # at the start: whatever an earlier process left
        while True:
            try:
                if woken or await self._anything_waiting():
                    await self.publish_pending()
                backoff = self._poll
                woken = await self._outbox.wait(self._poll)
                if woken:
                    # Woken by a commit: the commits of the next moment go out in the same batch (one
                    # transaction for several events: under load, a few per relay round, not one each).
                    await asyncio.sleep(LINGER_SECONDS)
            except asyncio.CancelledError:
                raise
            except BusUnavailable as exc:
                log.warning("outbox relay: broker unavailable, retrying in %.1fs: %s", backoff, exc)
                woken = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
            except Exception:
                log.exception("outbox relay failed, retrying in %.1fs", backoff)
                woken = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)

    async def _anything_waiting(self) -> bool:
        """A poll no commit of this process woke: events of another process (a replica that died
        before relaying, `warden identities import`) are rare, so it asks with one statement on its
        own before it opens a relay round's transaction (three round trips)."""
        with suppress_instrumentation():
            async with self._db.read() as conn:
                return bool((await conn.execute(self._any_waiting)).scalar_one())


def _claim(table: Table, batch_size: int) -> ReturningDelete[Any]:
    """The oldest waiting events, deleted and returned in one statement: a relay round is BEGIN,
    this and COMMIT. Built once per relay, so SQLAlchemy neither builds nor keys it again. SKIP LOCKED
    lets several replicas relay side by side without sending a row twice (SQLite, a single process,
    has no row locks and ignores it)."""
    waiting = (
        select(table.c.position)
        .where(table.c.published_at.is_(None))
        .order_by(table.c.position)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    return delete(table).where(table.c.position.in_(waiting.scalar_subquery())).returning(*table.c)


def _envelope(row: Row[Any]) -> Envelope:
    occurred = row.occurred_at
    if occurred.tzinfo is None:  # SQLite hands timestamps back naive; they were written in UTC
        occurred = occurred.replace(tzinfo=UTC)
    return Envelope(
        id=row.id,
        type=row.type,
        source=row.source,
        data=json.loads(row.data),
        occurred_at=occurred,
    )
