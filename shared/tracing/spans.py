"""Warden's own spans, where no official instrumentation fits (the outbox relay, the courier's
send over SMTP). They go through OpenTelemetry's API: with tracing off it is the no-op tracer."""

from __future__ import annotations

from opentelemetry import trace

from shared.version import warden_version


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name, warden_version())
