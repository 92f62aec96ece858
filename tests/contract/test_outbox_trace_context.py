"""The outbox carries a request's trace to the broker, on both engines: the row keeps the W3C context
of the span that wrote it, and the relay publishes inside that trace, however much later (and, for
a row written with no trace active, in none)."""

from __future__ import annotations

import json

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import MetaData, select

from shared.bus.envelope import Envelope
from shared.bus.outbox import Outbox, OutboxRelay
from shared.storage import migrations
from shared.storage.database import Database
from shared.storage.tables import outbox_table
from shared.storage.uow import UnitOfWorkFactory
from warden.services import SERVICES


class ContextRecordingPublisher:
    """Records the trace context each envelope was published in (what aio-pika's instrumentation
    would write into the message's headers)."""

    def __init__(self) -> None:
        self.seen: dict[str, trace.SpanContext] = {}

    async def publish(self, envelope: Envelope) -> None:
        self.seen[envelope.data["id"]] = trace.get_current_span().get_span_context()


@pytest.fixture
async def database(any_dsn: str):
    db = Database.from_dsn(any_dsn)
    yield db
    await db.dispose()


async def test_the_relay_publishes_each_event_in_the_trace_that_wrote_it(database: Database) -> None:
    await migrations.upgrade(database, next(s.migrations for s in SERVICES if s.name == "identity"))
    outbox = Outbox(outbox_table(MetaData(), "identity"))
    uow = UnitOfWorkFactory(database, outbox, "identity")
    # A provider of the test's own (not the process-wide one): the context is what travels.
    provider = TracerProvider()
    with provider.get_tracer("test").start_as_current_span("POST /self-service/registration") as request:
        async with uow() as work:
            work.emit_raw("identity.created", {"id": "traced"})
            await work.commit()
    async with uow() as work:
        work.emit_raw("identity.created", {"id": "untraced"})
        await work.commit()

    async with database.connect() as conn:
        stored = dict((await conn.execute(select(outbox.table.c.data, outbox.table.c.trace_context))).all())
    traced = json.loads(stored['{"id":"traced"}'])
    wanted = request.get_span_context()
    assert traced["traceparent"].startswith(f"00-{wanted.trace_id:032x}-{wanted.span_id:016x}-")
    assert stored['{"id":"untraced"}'] is None

    publisher = ContextRecordingPublisher()
    assert await OutboxRelay(database, outbox, publisher).publish_pending() == 2
    assert publisher.seen["traced"].trace_id == wanted.trace_id
    assert not publisher.seen["untraced"].is_valid
    provider.shutdown()
