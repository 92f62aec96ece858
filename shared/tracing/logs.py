"""`trace_id` and `span_id` on every JSON log line written inside a trace (the W3C hex forms a
trace viewer searches by), added through the formatter's context fields (shared.logging) only when
tracing is on: with it off, a log line costs what it did."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace

from shared.logging import DEFAULT_CONTEXT, ContextFields
from shared.tracing.config import TracingConfig


def trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


def span_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return f"{context.span_id:016x}" if context.is_valid else None


TRACE_FIELDS: ContextFields = {**DEFAULT_CONTEXT, "trace_id": trace_id, "span_id": span_id}


def log_context(settings: Any, service: str | None) -> ContextFields:
    """The context fields of a process's log lines: the trace's ids too when tracing is on."""
    return TRACE_FIELDS if TracingConfig.from_settings(settings, service) is not None else DEFAULT_CONTEXT
