"""The session cache on whoami's hot path: one counter increment per lookup, nothing more (the
children are looked up once, here)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class CacheMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        lookups = Counter(
            "warden_session_cache_lookups_total",
            "Session cache lookups by result: hit, miss, or error (the cache was unreachable)",
            ["result"],
            registry=registry,
        )
        self.hit = lookups.labels("hit")
        self.miss = lookups.labels("miss")
        self.error = lookups.labels("error")
