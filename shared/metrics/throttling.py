"""What holds floods back: the hashing queue in front of password checks (finding 6: how many checks
wait for a hashing thread, how long they wait, how many are refused because too many wait), and the
refusals of the brute-force throttle (password and second-factor guesses) and of per-client limits."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ThrottleMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.queue_depth = Gauge(
            "warden_hashing_queue_depth", "Password checks waiting for a hashing thread", registry=registry
        )
        self.queue_wait = Histogram(
            "warden_hashing_queue_wait_seconds",
            "Time a password check waited for a hashing thread",
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        self.queue_rejected = Counter(
            "warden_hashing_queue_rejected_total",
            "Password checks refused at once (503) because too many were waiting",
            registry=registry,
        )
        self.throttle_blocks = Counter(
            "warden_throttle_blocks_total",
            "Attempts refused by a throttle (429): password and second-factor guesses, or a client's rate limit",
            ["throttle"],
            registry=registry,
        )
        for throttle in ("password", "second_factor", "code", "client_ip"):
            self.throttle_blocks.labels(throttle)

    def watch_queue(self, waiting: Callable[[], int]) -> None:
        """The depth is read from the queue when scraped: no cost per check."""
        self.queue_depth.set_function(waiting)
