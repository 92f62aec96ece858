"""The bus and the outbox: what was published and consumed, what came back for another try, what was
dead-lettered; and, read from the database when scraped, how many events wait in each service's
outbox and how old the oldest is (a backlog that grows means the relay cannot reach the broker)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

from shared.bus.envelope import Envelope


class BusMetrics:
    """A `shared.bus.ports.BusObserver`: the adapters call it; it knows nothing of brokers."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._published = Counter(
            "warden_bus_published_total", "Events published and confirmed by the broker", ["type"], registry=registry
        )
        self._consumed = Counter(
            "warden_bus_consumed_total",
            "Deliveries handled by a consumer, by outcome (ok, or failed: retried or dead-lettered)",
            ["queue", "outcome"],
            registry=registry,
        )
        self._redelivered = Counter(
            "warden_bus_redelivered_total",
            "Deliveries of a message that had failed before",
            ["queue"],
            registry=registry,
        )
        self._dead_lettered = Counter(
            "warden_bus_dead_lettered_total",
            "Messages given up on after their last delivery failed, or undecodable, sent to the dead-letter queue",
            ["queue"],
            registry=registry,
        )

    def subscribed(self, queue: str) -> None:
        """Every series of a queue exists from its subscription on, at 0."""
        for outcome in ("ok", "failed"):
            self._consumed.labels(queue, outcome)
        self._redelivered.labels(queue)
        self._dead_lettered.labels(queue)

    def published(self, envelope: Envelope) -> None:
        self._published.labels(envelope.type).inc()

    def consumed(self, queue: str, ok: bool) -> None:
        self._consumed.labels(queue, "ok" if ok else "failed").inc()

    def redelivered(self, queue: str) -> None:
        self._redelivered.labels(queue).inc()

    def dead_lettered(self, queue: str) -> None:
        self._dead_lettered.labels(queue).inc()


Backlog = Callable[[], Awaitable[tuple[int, float]]]  # (events waiting, age of the oldest in seconds)


class OutboxMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.pending = Gauge(
            "warden_outbox_pending_events", "Events written but not yet published", ["service"], registry=registry
        )
        self.oldest_age = Gauge(
            "warden_outbox_oldest_pending_age_seconds",
            "Age of the oldest event not yet published (0 when none waits)",
            ["service"],
            registry=registry,
        )

    def probe(self, service: str, backlog: Backlog) -> Callable[[], Awaitable[None]]:
        async def probe() -> None:
            pending, age = await backlog()
            self.pending.labels(service).set(pending)
            self.oldest_age.labels(service).set(age)

        return probe
