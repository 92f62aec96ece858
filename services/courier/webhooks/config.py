"""The settings of reliable delivery (`webhooks.delivery.*`) and the event sink's subscriptions
(`webhooks.subscriptions[]`), Warden's own keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.bus.events import CATALOGUE
from shared.bus.ports import topic_matches
from shared.errors import ConfigError
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
        return event_type in SUBSCRIBABLE and any(topic_matches(pattern, event_type) for pattern in self.events)


# What a subscription may receive: the catalogue's events. Commands carry what the courier must
# send (codes among them) and go to the courier alone.
SUBSCRIBABLE = tuple(e.name for e in CATALOGUE if not e.command)


def subscriptions(settings: Any) -> list[EventSubscription]:
    """The subscriptions in config; a pattern that names no event of the catalogue fails start-up
    (a typo would otherwise subscribe to nothing, silently)."""
    found = []
    for index, raw in enumerate(settings.get("webhooks.subscriptions") or []):
        for position, pattern in enumerate(raw["events"]):
            if not any(topic_matches(pattern, name) for name in SUBSCRIBABLE):
                raise ConfigError(
                    f"config: webhooks.subscriptions[{index}].events[{position}]: {pattern!r} matches no event "
                    f"Warden emits ({', '.join(SUBSCRIBABLE)})"
                )
        found.append(EventSubscription(raw["id"], raw["url"], tuple(raw["events"]), raw["secret"]))
    return found
