"""Whether the process reaches what it depends on (database, bus, cache), read at scrape time with
the same checks as /health/ready: the 'cache unreachable' alert watches this."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from prometheus_client import CollectorRegistry, Gauge

CHECK_TIMEOUT_SECONDS = 1.0


class DependencyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.up = Gauge(
            "warden_dependency_up",
            "1 when the process reaches the dependency (database:N, bus, cache), 0 when it does not",
            ["dependency"],
            registry=registry,
        )

    def probe(self, checks: Sequence[tuple[str, Callable[[], Awaitable[bool]]]]) -> Callable[[], Awaitable[None]]:
        async def probe() -> None:
            for name, check in checks:
                try:
                    up = await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
                except Exception:  # refused, timed out: not reached
                    up = False
                self.up.labels(name).set(1 if up else 0)

        return probe
