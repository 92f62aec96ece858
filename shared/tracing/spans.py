"""Warden's own spans, where no official instrumentation fits (the outbox relay, the courier's
send over SMTP). They go through OpenTelemetry's API: with tracing off it is the no-op tracer."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation

from shared.version import warden_version


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name, warden_version())


@contextlib.contextmanager
def only_inside_a_trace() -> Iterator[None]:
    """What a health probe or a metrics scrape does (a database `SELECT 1`, a Redis `PING`) makes
    spans only under the probe's own span. Probes are left out of the traces by default
    (shared.tracing.config), and without this each of their checks would still start a trace of one
    span of its own, every few seconds on every pod. With tracing off this is one context lookup and
    one context attach, on the probe's path alone."""
    if trace.get_current_span().get_span_context().is_valid:
        yield
        return
    with suppress_instrumentation():
        yield
