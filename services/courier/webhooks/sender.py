"""One attempt at a delivery: the HTTP call, through the courier's egress guard.

Every attempt carries `Idempotency-Key: <delivery id>`, the same on every retry, so that a receiver
can tell a retry from a new call. A web hook's headers and `auth` are read from its config entry
now, not stored with the delivery; an event is signed with its subscription's secret (Standard
Webhooks). Any 2xx is delivered; anything else is a failure, and a `Retry-After` answer is
honoured by the dispatcher."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from services.courier.channels.ports import DeliveryError
from services.courier.webhooks.config import EventSubscription
from services.courier.webhooks.domain import EVENT, Delivery
from shared.http.egress import Egress
from shared.http.outgoing import request_headers
from shared.webhooks import signature


class RetryLater(DeliveryError):
    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeliverySender:
    def __init__(
        self, settings: Any, subscriptions: list[EventSubscription], egress: Egress, *, timeout: float
    ) -> None:
        self._settings = settings
        self._subscriptions = {s.id: s for s in subscriptions}
        self._egress = egress
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def send(self, delivery: Delivery) -> None:
        body = delivery.body.encode() if delivery.body is not None else None
        headers = {**self._headers(delivery, body or b""), "Idempotency-Key": delivery.id}
        async with self._egress.request(
            delivery.method, delivery.url, data=body, headers=headers, timeout=self._timeout
        ) as response:
            if not 200 <= response.status < 300:
                raise RetryLater(
                    f"the receiver answered {response.status}", _retry_after(response.headers.get("Retry-After"))
                )

    def _headers(self, delivery: Delivery, body: bytes) -> dict[str, str]:
        if delivery.kind == EVENT:
            subscription = self._subscriptions.get(delivery.target)
            if subscription is None:
                raise DeliveryError(f"the subscription {delivery.target!r} is no longer configured")
            signed = signature.headers(subscription.secret, delivery.id, int(time.time()), body)
            return {"Content-Type": "application/json", **signed}
        # The key names a position in the hook lists: after the config changed, another hook (with
        # its own credentials) may sit there. Its headers go only to the receiver it names.
        config = self._settings.get(delivery.target)
        if not isinstance(config, dict) or config.get("url") != delivery.url:
            raise DeliveryError("the web hook is no longer configured")
        return request_headers(config.get("headers") or {}, config.get("auth"))


def _retry_after(value: str | None) -> float | None:
    """Seconds, or an HTTP date, as RFC 9110 allows; None when absent or unreadable."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
