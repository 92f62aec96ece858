"""SQLite's statements as CLIENT spans, the way the asyncpg instrumentation shows PostgreSQL's.

Why Warden's own: SQLite's statements run on Python's sqlite3 directly (shared/storage/sqlite.py),
which no instrumentation knows. So: an observer of that module's statements, which it calls on its
thread in the context of the task that sent each one, so the span sits under the request (or
consumer) that ran the statement. The span holds the SQL text with its `?` placeholders, never the
parameters; a failing statement's status names the error's type alone (SQLite's messages may quote
what was being written).

Only statements inside a trace make spans: outside one they are start-up migrations, background polls
(the outbox relay's, the courier's, the session cache's generation) and probes, which are nobody's
journey and would each start a trace of one span. (asyncpg's instrumentation traces those too, as
root spans, where the polls do not suppress it.)
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind, Status, StatusCode

from shared.storage.sqlite import OBSERVERS
from shared.version import warden_version


class SqliteInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        self._tracer = trace.get_tracer(__name__, warden_version(), kwargs.get("tracer_provider"))
        OBSERVERS.append(self._statement)

    def _uninstrument(self, **kwargs: Any) -> None:
        OBSERVERS.remove(self._statement)

    def _statement(self, statement: str) -> Callable[[BaseException | None], None] | None:
        if not is_instrumentation_enabled() or not trace.get_current_span().get_span_context().is_valid:
            return None
        operation = statement.split(None, 1)[0].upper() if statement.strip() else "sqlite"
        attributes = {"db.system": "sqlite", "db.system.name": "sqlite", "db.statement": statement}
        span = self._tracer.start_span(operation, kind=SpanKind.CLIENT, attributes=attributes)

        def ended(error: BaseException | None) -> None:
            if error is not None:
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            span.end()

        return ended
