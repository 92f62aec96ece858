"""SQLite's statements as spans (shared.tracing.sqlite) on a real SQLite file through Warden's
Database: inside a trace each statement is a CLIENT span under it, with the SQL's `?` placeholders
and never a value; a failing one is marked as an error by its type alone; outside a trace, and with
the hook removed, nothing is recorded; PostgreSQL is left to asyncpg's instrumentation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import text

from shared.storage.database import Database
from shared.tracing.sqlite import SqliteInstrumentor

SECRET = "a-value-that-must-stay-out-of-spans"


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()  # the test's own: the process-wide one stays untouched
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    SqliteInstrumentor().instrument(tracer_provider=provider)
    try:
        yield provider, exporter
    finally:
        SqliteInstrumentor().uninstrument()


async def test_statements_inside_a_trace_are_client_spans_without_their_values(
    tmp_path: Path, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = spans
    database = Database.from_dsn(f"sqlite://{tmp_path}/warden.sqlite")
    try:
        async with database.transaction() as conn:
            await conn.execute(text("CREATE TABLE things (name TEXT PRIMARY KEY)"))  # outside a trace
        with provider.get_tracer("test").start_as_current_span("POST /self-service/registration") as request:
            async with database.transaction() as conn:
                await conn.execute(text("INSERT INTO things (name) VALUES (:name)"), {"name": SECRET})
            with pytest.raises(Exception, match="UNIQUE"):
                async with database.transaction() as conn:
                    await conn.execute(text("INSERT INTO things (name) VALUES (:name)"), {"name": SECRET})
    finally:
        await database.dispose()

    statements = [s for s in exporter.get_finished_spans() if s.name != "POST /self-service/registration"]
    assert [s.name for s in statements] == ["INSERT", "INSERT"]
    parent = request.get_span_context()
    for span in statements:
        assert span.kind == SpanKind.CLIENT and span.parent is not None and span.parent.span_id == parent.span_id
        assert dict(span.attributes or {}) == {
            "db.system": "sqlite",
            "db.system.name": "sqlite",
            "db.statement": "INSERT INTO things (name) VALUES (?)",
        }
    assert statements[0].status.status_code == StatusCode.UNSET
    assert (statements[1].status.status_code, statements[1].status.description) == (StatusCode.ERROR, "IntegrityError")
    assert not any(
        SECRET in str(value) for s in exporter.get_finished_spans() for value in (s.attributes or {}).values()
    )


async def test_a_statement_that_fails_before_sqlite_reads_it_ends_its_span_as_an_error(
    tmp_path: Path, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    """sqlite3 refuses some values itself (an int past 64 bits: OverflowError, not a sqlite3.Error):
    the statement's span ends all the same, marked with that error's type."""
    provider, exporter = spans
    database = Database.from_dsn(f"sqlite://{tmp_path}/warden.sqlite")
    try:
        with provider.get_tracer("test").start_as_current_span("request"):
            with pytest.raises(OverflowError):
                async with database.transaction() as conn:
                    await conn.execute(text("SELECT :number"), {"number": 2**64})
    finally:
        await database.dispose()
    statements = [s for s in exporter.get_finished_spans() if s.name != "request"]
    assert [(s.name, s.status.status_code, s.status.description) for s in statements] == [
        ("SELECT", StatusCode.ERROR, "OverflowError")
    ]


async def test_postgresql_and_a_removed_hook_make_no_sqlite_spans(
    tmp_path: Path, pg_dsn: str, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = spans
    postgresql = Database.from_dsn(pg_dsn)
    try:
        with provider.get_tracer("test").start_as_current_span("request"):
            async with postgresql.transaction() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        await postgresql.dispose()
    SqliteInstrumentor().uninstrument()
    sqlite = Database.from_dsn(f"sqlite://{tmp_path}/warden.sqlite")
    try:
        with provider.get_tracer("test").start_as_current_span("request"):
            async with sqlite.transaction() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        await sqlite.dispose()
    SqliteInstrumentor().instrument(tracer_provider=provider)  # for the fixture to remove again
    assert [s.name for s in exporter.get_finished_spans()] == ["request", "request"]
