"""Self-service flows: how many start, how many end well or badly, by flow type (login,
registration, …) and method (password, code, …), and how long a submission takes.

Methods are the strategies' own names, never what a client typed in `method` (that would let anyone
add label values, hence series, at will): a body no method claims counts as method "none"."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram

FLOW_TYPES = ("login", "registration", "settings", "recovery", "verification")
NO_METHOD = "none"
# Password checks dominate: a bcrypt or argon2 hash takes 0.05-1 s; a flood queues them for longer.
SUBMIT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class FlowMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.started = Counter(
            "warden_selfservice_flows_started_total", "Self-service flows created", ["type"], registry=registry
        )
        self.succeeded = Counter(
            "warden_selfservice_flows_succeeded_total",
            "Self-service flow submissions that completed the flow",
            ["type", "method"],
            registry=registry,
        )
        self.failed = Counter(
            "warden_selfservice_flows_failed_total",
            "Self-service flow submissions refused (invalid input, wrong credentials, throttled)",
            ["type", "method"],
            registry=registry,
        )
        self.duration = Histogram(
            "warden_selfservice_flow_submit_duration_seconds",
            "Time to answer a self-service submission that succeeded or failed (login and registration latency)",
            ["type", "method"],
            buckets=SUBMIT_BUCKETS,
            registry=registry,
        )
        for kind in FLOW_TYPES:  # present from the start, so a rate over them is 0 rather than empty
            self.started.labels(kind)

    def submission(self, kind: str, method: str = NO_METHOD) -> Submission:
        return Submission(self, kind, method)


@dataclass
class Submission:
    """One submission to a flow, recorded when it ends well or badly, with its duration so far; a step
    on the way (a code sent, a redirect to a provider) records nothing. `method` is set once a
    strategy took the submission."""

    metrics: FlowMetrics
    kind: str
    method: str = NO_METHOD
    started: float = field(default_factory=time.perf_counter)

    def succeeded(self) -> None:
        self.metrics.succeeded.labels(self.kind, self.method).inc()
        self._took()

    def failed(self) -> None:
        self.metrics.failed.labels(self.kind, self.method).inc()
        self._took()

    def _took(self) -> None:
        self.metrics.duration.labels(self.kind, self.method).observe(time.perf_counter() - self.started)
