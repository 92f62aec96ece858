"""The `courier.webhook.requested` command: an outgoing HTTP call the courier delivers reliably
(at least once, with backoff, dead-lettered after `webhooks.delivery.max_attempts`).

Selfservice writes it to its outbox with the flow's final state, for `web_hook`s with
`response.ignore: true` and for synchronous ones whose call failed. The body is rendered when the
flow happens (it describes that moment); headers and `auth` are read from the hook's config
(`config_key`) when the call is sent, so no credential is ever stored in an outbox or a delivery row.
The envelope's id is the delivery's id and its `Idempotency-Key`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WEBHOOK_REQUESTED = "courier.webhook.requested"


@dataclass(frozen=True)
class WebhookRequest:
    config_key: str  # where the hook's config sits, e.g. selfservice.flows.registration.after.hooks.0.config
    url: str
    method: str
    body: str | None  # the rendered Jsonnet output (JSON text), or None for no body

    def to_data(self) -> dict[str, Any]:
        return {"config_key": self.config_key, "url": self.url, "method": self.method, "body": self.body}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> WebhookRequest:
        return cls(str(data["config_key"]), str(data["url"]), str(data.get("method") or "POST"), data.get("body"))
