"""Tracing for one process: the SDK's tracer provider, exporting OTLP over HTTP in batches from a
thread of its own, and the official instrumentations for what Warden talks through (aiohttp server
and client, the grpc.aio server, asyncpg, redis, aio-pika; SQLite by a small hook of Warden's own). Started first in the composition root, so that every
application and client session made after it is instrumented; stopped last, flushing what
is still buffered.

OpenTelemetry's tracer provider is process-wide by its API's design (the instrumentations patch
classes process-wide too), so a process has one `Tracing` at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorServer
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from shared.tracing.config import TracingConfig
from shared.tracing.redaction import RedactingSpanProcessor, redacted_url
from shared.tracing.sqlite import SqliteInstrumentor
from shared.version import warden_version

log = logging.getLogger(__name__)


def build_provider(config: TracingConfig, services: Sequence[str]) -> TracerProvider:
    resource = Resource.create(
        {
            "service.name": config.service_name,
            "service.namespace": "warden",
            "service.version": warden_version(),
            "warden.services": ",".join(services),
        }
    )
    sampler = ParentBased(TraceIdRatioBased(config.sampling_ratio)) if config.sampling_ratio is not None else None
    provider = TracerProvider(resource=resource, sampler=sampler)
    provider.add_span_processor(RedactingSpanProcessor())
    exporter = OTLPSpanExporter(endpoint=config.endpoint, headers=dict(config.headers) or None)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


class Tracing:
    def __init__(self, config: TracingConfig, services: Sequence[str]) -> None:
        self.config = config
        self.provider = build_provider(config, services)
        self._installed: list[BaseInstrumentor] = []

    def start(self) -> None:
        trace.set_tracer_provider(self.provider)  # for the hand-written spans (shared.tracing.spans)
        with _variables(self.config.exclusions):  # probes and scrapes left out (see shared.tracing.config)
            self._install(AioHttpServerInstrumentor())
            # The gRPC port's calls (session Check, WatchRevocations, …) as SERVER spans, continuing
            # the caller's `traceparent` from the call's metadata; of the metadata only the
            # user-agent is recorded, never `authorization`.
            self._install(GrpcAioInstrumentorServer())  # type: ignore[no-untyped-call]
        self._install(AioHttpClientInstrumentor(), url_filter=redacted_url)
        # PostgreSQL's queries (SQL text with $n placeholders; the parameters are not captured), and
        # SQLite's by Warden's own engine events (shared.tracing.sqlite says why).
        self._install(AsyncPGInstrumentor())  # type: ignore[no-untyped-call]
        self._install(SqliteInstrumentor())
        self._install(RedisInstrumentor())
        self._install(AioPikaInstrumentor())
        log.info("tracing: exporting to %s", self.config.endpoint or "the OTLP endpoint of OTEL_* (or localhost:4318)")

    def _install(self, instrumentor: BaseInstrumentor, **kwargs: Any) -> None:
        instrumentor.instrument(tracer_provider=self.provider, **kwargs)
        self._installed.append(instrumentor)

    async def stop(self) -> None:
        for instrumentor in reversed(self._installed):
            instrumentor.uninstrument()
        self._installed.clear()
        await asyncio.to_thread(self.provider.shutdown)  # flushes the batch; its exporter blocks


@contextlib.contextmanager
def _variables(values: Mapping[str, str]) -> Iterator[None]:
    """The instrumentations read their exclusion variables from the environment once, when they are
    made and installed: those values for that moment, and the environment as it was afterwards."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
