"""HTTP requests answered, by port, method, route and status, and how long they took (part of
`shared.metrics.Metrics`, which renders the registry)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "warden_http_requests_total",
            "HTTP requests answered",
            ["port", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "warden_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["port", "method", "route"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}

    def observe(self, port: str, method: str, route: str, status: int, seconds: float) -> None:
        # `labels()` costs microseconds per call; the children are looked up once per label set.
        key = (port, method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(port, method, route, str(status)),
                self.latency.labels(port, method, route),
            )
        children[0].inc()
        children[1].observe(seconds)
