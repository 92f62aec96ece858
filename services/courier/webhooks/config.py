"""The settings of reliable delivery (`webhooks.delivery.*`) and the event sink's subscriptions
(`webhooks.subscriptions[]`), Warden's own keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.bus.ports import topic_matches
from shared.units import parse_duration

CLAIM_LEASE_SECONDS = 120.0  # far beyond one attempt's timeout: a slow send is never taken over


@dataclass(frozen=True)
class DeliveryConfig:
    retries: int = 9  # tries after the first
    initial_backoff: float = 1.0
    max_backoff: float = 600.0
    send_timeout: float = 10.0
    pull_count: int = 10
    pull_wait: float = 1.0
    lease: float = CLAIM_LEASE_SECONDS

    def backoff(self, send_count: int) -> float:
        """Seconds before the next try of a delivery that has failed `send_count` times."""
        return float(min(self.initial_backoff * 2 ** max(0, send_count - 1), self.max_backoff))

    @classmethod
    def from_settings(cls, settings: Any) -> DeliveryConfig:
        get = settings.get
        initial = parse_duration(get("webhooks.delivery.initial_backoff", "1s")).total_seconds()
        return cls(
            retries=int(get("webhooks.delivery.max_attempts", 10)) - 1,
            initial_backoff=initial,
            max_backoff=parse_duration(get("webhooks.delivery.max_backoff", "10m")).total_seconds(),
            send_timeout=parse_duration(get("webhooks.delivery.timeout", "10s")).total_seconds(),
            # Look for due deliveries at least as often as the shortest backoff.
            pull_wait=max(0.05, min(1.0, initial)),
        )


@dataclass(frozen=True)
class EventSubscription:
    id: str
    url: str
    events: tuple[str, ...]
    secret: str

    def wants(self, event_type: str) -> bool:
        return any(topic_matches(pattern, event_type) for pattern in self.events)


def subscriptions(settings: Any) -> list[EventSubscription]:
    return [
        EventSubscription(s["id"], s["url"], tuple(s["events"]), s["secret"])
        for s in settings.get("webhooks.subscriptions") or []
    ]
