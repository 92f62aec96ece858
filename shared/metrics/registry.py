"""The metrics of one process: one registry of its own (nothing global, nothing made at import), the
families of every service it may run, and the probes that read what only a query can tell (outbox
backlog, dependencies up) when Prometheus scrapes, so nothing is polled between scrapes.

Every family is defined here once, so that the services one process runs side by side (all four in
`warden serve`) share it instead of registering a name twice. A service takes the part it uses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from shared.http.metrics import HttpMetrics
from shared.metrics.bus import BusMetrics, OutboxMetrics
from shared.metrics.courier import CourierMetrics
from shared.metrics.flows import FlowMetrics
from shared.metrics.health import DependencyMetrics
from shared.metrics.sessions import CacheMetrics
from shared.metrics.throttling import ThrottleMetrics

log = logging.getLogger(__name__)
Probe = Callable[[], Awaitable[None]]
# A scrape must answer even when the database is slow: a probe past this keeps its last value.
PROBE_TIMEOUT_SECONDS = 2.0


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, process_resident_memory_bytes, …
        self.http = HttpMetrics(self.registry)
        self.flows = FlowMetrics(self.registry)
        self.throttling = ThrottleMetrics(self.registry)
        self.cache = CacheMetrics(self.registry)
        self.bus = BusMetrics(self.registry)
        self.outbox = OutboxMetrics(self.registry)
        self.courier = CourierMetrics(self.registry)
        self.dependencies = DependencyMetrics(self.registry)
        self._probes: list[Probe] = []

    def on_scrape(self, probe: Probe) -> None:
        """`probe` runs before each exposition (side by side with the others, under a deadline)."""
        self._probes.append(probe)

    async def render(self) -> tuple[bytes, str]:
        if self._probes:
            await asyncio.gather(*(_run(probe) for probe in self._probes))
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


async def _run(probe: Probe) -> None:
    try:
        await asyncio.wait_for(probe(), PROBE_TIMEOUT_SECONDS)
    except Exception as exc:  # a probe's failure shows as a stale gauge, never as a failed scrape
        log.warning("metrics: a probe failed: %s", type(exc).__name__)
