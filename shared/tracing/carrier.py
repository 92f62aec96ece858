"""A trace's context where the instrumentations cannot carry it: written with a row (the outbox, a
courier message) in the request that caused it, and resumed by whatever works the row off later
(the relay, the dispatcher), so that their spans join the request's trace.

The context travels as W3C `traceparent` (and `tracestate`) in a small JSON object. Without an active
trace nothing is written, so with tracing off a row gets NULL after one context-variable lookup.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from opentelemetry import context, propagate, trace


def current() -> str | None:
    """The active trace's context, ready to store; None when no trace is active."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return json.dumps(carrier, separators=(",", ":")) if carrier else None


@contextlib.contextmanager
def resumed(stored: str | None) -> Iterator[bool]:
    """Runs the block in the stored trace's context and says whether there was one. The context is
    built afresh, not over the caller's: a poll loop's suppressed instrumentation stays out of it."""
    if not stored:
        yield False
        return
    try:
        carrier = json.loads(stored)
    except ValueError:
        carrier = None
    if not isinstance(carrier, dict):
        yield False
        return
    token = context.attach(propagate.extract(carrier, context=context.Context()))
    try:
        yield True
    finally:
        context.detach(token)
