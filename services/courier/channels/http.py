"""Delivery through an HTTP API (`courier.channels[]` with `type: http`, or
`courier.delivery_strategy: http` for email), as Kratos's `courier/http_channel.go` does: the
request body is a Jsonnet program applied to the message, and any 2xx answer means delivered.
Requests go through the service's egress guard (`clients.http.disallow_private_ip_ranges`).

The body is evaluated in the service's Jsonnet sandbox (shared/jsonnet_sandbox.py), not here: its
`ctx` carries the message's template data, which holds the identity's traits and the flow's
`transient_payload`, and anyone may ask for a code with any payload. Nested arrays there make an
output that grows with their depth times their size (60 kB: 40 MB and some 300 MB of memory). A
body that fails there (out of memory, of time, or of output) fails the send, as any template
failure does: the message is tried again later and abandoned after `courier.message_retries`."""

from __future__ import annotations

from typing import Any

import aiohttp

from services.courier.channels.ports import DeliveryError
from services.courier.config import RequestConfig
from services.courier.domain import EMAIL, Message
from services.courier.template_types import json_fields
from shared.http.egress import Egress
from shared.http.outgoing import METHODS_WITH_BODY, encode_body, request_headers
from shared.jsonnet import JsonnetBody
from shared.jsonnet_sandbox import JsonnetSandbox

_LEGACY_NAMES = {
    "recipient": "Recipient",
    "subject": "Subject",
    "body": "Body",
    "template_type": "TemplateType",
    "template_data": "TemplateData",
    "message_type": "MessageType",
}


class HttpChannel:
    def __init__(
        self, config: RequestConfig, body: JsonnetBody, egress: Egress, sandbox: JsonnetSandbox, *, timeout: float
    ) -> None:
        self._config = config
        self._body = body
        self._egress = egress
        self._sandbox = sandbox  # the service's: it closes it
        self._seconds = timeout
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def close(self) -> None:
        """The shared egress session and the sandbox are closed by the service, not here."""

    async def send(self, message: Message) -> None:
        headers = request_headers(self._config.headers, self._config.auth)
        data = None
        if self._config.method in METHODS_WITH_BODY:
            document = await self._sandbox.evaluate(self._body, timeout=self._seconds, tla={"ctx": _context(message)})
            data = encode_body(document, headers)
        async with self._egress.request(
            self._config.method, self._config.url, data=data, headers=headers, timeout=self._timeout
        ) as response:
            if not 200 <= response.status < 300:
                raise DeliveryError(
                    "unable to dispatch mail delivery because upstream server replied with status "
                    f"code {response.status}"
                )


def _context(message: Message) -> dict[str, Any]:
    """What Kratos hands the Jsonnet body (`httpDataModel`). Its older releases had no JSON tags on
    that struct, and configs written then (Kratos's own phone quickstart) read `ctx.Recipient`,
    `ctx.Body`: both spellings are there."""
    ctx: dict[str, Any] = {
        "recipient": message.recipient,
        "subject": message.subject,
        "body": message.body,
        "template_type": message.template_type,
        "template_data": json_fields(message.template_data),
        "message_type": message.channel,
    }
    if message.channel == EMAIL and message.html_body:
        ctx["html_body"] = message.html_body
    return {**ctx, **{_LEGACY_NAMES[key]: value for key, value in ctx.items() if key in _LEGACY_NAMES}}
