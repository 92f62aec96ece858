"""Delivery through an HTTP API (`courier.channels[]` with `type: http`, or
`courier.delivery_strategy: http` for email), as Kratos's `courier/http_channel.go` does: the
request body is a Jsonnet program applied to the message, and any 2xx answer means delivered."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

import aiohttp

from services.courier.channels.ports import DeliveryError
from services.courier.config import RequestConfig
from services.courier.domain import EMAIL, Message
from services.courier.template_types import json_fields
from shared.jsonnet import JsonnetProgram

# GET and friends carry no body, as in Kratos's request builder.
METHODS_WITH_BODY = {"POST", "PUT", "PATCH"}
FORM = "application/x-www-form-urlencoded"
_LEGACY_NAMES = {
    "recipient": "Recipient",
    "subject": "Subject",
    "body": "Body",
    "template_type": "TemplateType",
    "template_data": "TemplateData",
    "message_type": "MessageType",
}


class JsonnetBody(JsonnetProgram):
    """The request body template, given the message as `ctx` (Kratos's `courier/http_channel.go`)."""

    def build(self, ctx: dict[str, Any]) -> str:
        return self.text(tla={"ctx": ctx})


class HttpChannel:
    def __init__(
        self, config: RequestConfig, body: JsonnetBody, session: aiohttp.ClientSession, *, timeout: float
    ) -> None:
        self._config = config
        self._body = body
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def send(self, message: Message) -> None:
        headers = {**self._config.headers, **_auth_headers(self._config.auth)}
        if not _content_type(headers):
            headers["Content-Type"] = "application/json"
        data = None
        if self._config.method in METHODS_WITH_BODY:
            data = _encode(self._body.build(_context(message)), _content_type(headers))
        # No redirects: a 3xx would carry the message (codes and all) to an address nobody configured.
        async with self._session.request(
            self._config.method,
            self._config.url,
            data=data,
            headers=headers,
            timeout=self._timeout,
            allow_redirects=False,
        ) as response:
            if not 200 <= response.status < 300:
                raise DeliveryError(
                    "unable to dispatch mail delivery because upstream server replied with status "
                    f"code {response.status}"
                )


def _content_type(headers: dict[str, str]) -> str:
    found = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return found.split(";")[0].strip().lower()


def _encode(document: str, content_type: str) -> bytes:
    """The Jsonnet output as JSON, or as a form when the config asks for one (as Twilio does)."""
    if content_type != FORM:
        return document.encode()
    fields = json.loads(document)
    if not isinstance(fields, dict):
        raise ValueError("a form body must be a Jsonnet object")
    return urlencode(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items() if v is not None}
    ).encode()


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


def _auth_headers(auth: dict[str, Any] | None) -> dict[str, str]:
    if not auth:
        return {}
    config = auth.get("config") or {}
    if auth.get("type") == "basic_auth":
        token = base64.b64encode(f"{config.get('user', '')}:{config.get('password', '')}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    if auth.get("type") == "api_key":
        if config.get("in") == "cookie":
            return {"Cookie": f"{config['name']}={config['value']}"}
        return {config["name"]: config["value"]}
    return {}
