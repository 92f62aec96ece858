"""SQLite's statements as CLIENT spans, the way the asyncpg instrumentation shows PostgreSQL's.

Why Warden's own: the official `opentelemetry-instrumentation-sqlalchemy` 0.66b1 declares
`sqlalchemy >= 1.0.0, < 2.1.0`, so on Warden's SQLAlchemy 2.1 its `instrument()` logs a dependency
conflict and installs nothing; forcing it (`skip_dep_check`) would also trace PostgreSQL a second
time, over asyncpg's spans. And aiosqlite, the driver under SQLite, has no instrumentation at all.
So: three SQLAlchemy engine events, listened to on the `Engine` class (every engine, made before or
after), doing something for SQLite's alone.

SQLAlchemy fires them in the greenlet that runs the statement for the awaiting task, whose context
variables it carries over, so the span sits under the request (or consumer) that ran the statement.
The span holds the SQL text with its `?` placeholders, never the parameters.

Only statements inside a trace make spans: outside one they are start-up migrations, background polls
(the outbox relay's, the courier's, the session cache's generation) and probes, which are nobody's
journey and would each start a trace of one span. (asyncpg's instrumentation traces those too, as
root spans, where the polls do not suppress it.)
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import event
from sqlalchemy.engine import Engine

from shared.version import warden_version

_SPAN = "_warden_otel_span"  # where a statement's span waits on SQLAlchemy's execution context


class SqliteInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        self._tracer = trace.get_tracer(__name__, warden_version(), kwargs.get("tracer_provider"))
        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", _after)
        event.listen(Engine, "handle_error", _failed)

    def _uninstrument(self, **kwargs: Any) -> None:
        event.remove(Engine, "before_cursor_execute", self._before)
        event.remove(Engine, "after_cursor_execute", _after)
        event.remove(Engine, "handle_error", _failed)

    def _before(self, conn: Any, _cursor: Any, statement: str, _parameters: Any, context: Any, _many: bool) -> None:
        if conn.dialect.name != "sqlite" or context is None or not is_instrumentation_enabled():
            return
        if not trace.get_current_span().get_span_context().is_valid:
            return
        operation = statement.split(None, 1)[0].upper() if statement.strip() else "sqlite"
        attributes = {"db.system": "sqlite", "db.system.name": "sqlite", "db.statement": statement}
        span = self._tracer.start_span(operation, kind=SpanKind.CLIENT, attributes=attributes)
        setattr(context, _SPAN, span)


def _after(_conn: Any, _cursor: Any, _statement: str, _parameters: Any, context: Any, _many: bool) -> None:
    span = getattr(context, _SPAN, None)
    if span is not None:
        span.end()
        setattr(context, _SPAN, None)


def _failed(exception_context: Any) -> None:
    """The error's type only: SQLite's messages may quote what was being written."""
    context = exception_context.execution_context
    span = getattr(context, _SPAN, None) if context is not None else None
    if span is not None:
        span.set_status(Status(StatusCode.ERROR, type(exception_context.original_exception).__name__))
        span.end()
        setattr(context, _SPAN, None)
