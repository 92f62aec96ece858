"""The courier's messages (emails, SMS): queued from a request, sent, abandoned after the last retry,
and each failed attempt, by channel; and its web hook deliveries (Kratos's web_hook hooks sent
later, and the event sink), by kind and outcome."""

from __future__ import annotations

from typing import Protocol

from prometheus_client import CollectorRegistry, Counter

CHANNELS = ("email", "sms")
DELIVERY_KINDS = ("web_hook", "event")
OUTCOMES = ("sent", "failed", "abandoned")


class OnChannel(Protocol):
    @property
    def channel(self) -> str: ...


class OfKind(Protocol):
    @property
    def kind(self) -> str: ...


class CourierMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.queued = Counter(
            "warden_courier_messages_queued_total",
            "Messages stored and queued for sending",
            ["channel"],
            registry=registry,
        )
        self.sent_messages = Counter(
            "warden_courier_messages_sent_total", "Messages the channel accepted", ["channel"], registry=registry
        )
        self.failed_attempts = Counter(
            "warden_courier_send_failures_total",
            "Attempts to send a message that failed (it is retried, or abandoned after the last)",
            ["channel"],
            registry=registry,
        )
        self.abandoned_messages = Counter(
            "warden_courier_messages_abandoned_total",
            "Messages given up on after their last retry failed",
            ["channel"],
            registry=registry,
        )
        deliveries = Counter(
            "warden_courier_webhook_deliveries_total",
            "Web hook deliveries by kind (web_hook, event) and outcome (sent, failed attempt, abandoned)",
            ["kind", "outcome"],
            registry=registry,
        )
        self.webhooks = DeliveryOutcomes(deliveries)
        for channel in CHANNELS:
            for family in (self.queued, self.sent_messages, self.failed_attempts, self.abandoned_messages):
                family.labels(channel)

    # The courier dispatcher's `Outcomes`:
    def sent(self, message: OnChannel) -> None:
        self.sent_messages.labels(message.channel).inc()

    def failed(self, message: OnChannel) -> None:
        self.failed_attempts.labels(message.channel).inc()

    def abandoned(self, message: OnChannel) -> None:
        self.abandoned_messages.labels(message.channel).inc()


class DeliveryOutcomes:
    """The web hook dispatcher's `Outcomes`."""

    def __init__(self, deliveries: Counter) -> None:
        self._deliveries = deliveries
        for kind in DELIVERY_KINDS:
            for outcome in OUTCOMES:
                deliveries.labels(kind, outcome)

    def sent(self, delivery: OfKind) -> None:
        self._deliveries.labels(delivery.kind, "sent").inc()

    def failed(self, delivery: OfKind) -> None:
        self._deliveries.labels(delivery.kind, "failed").inc()

    def abandoned(self, delivery: OfKind) -> None:
        self._deliveries.labels(delivery.kind, "abandoned").inc()
