"""How Kratos builds an outgoing request from config (`request/builder.go`), for courier HTTP
channels and web hooks alike: `auth` becomes a header or a cookie, the Jsonnet output is sent as
JSON or, when the configured Content-Type asks for it, as a form."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from shared.units import parse_duration

# GET and friends carry no body, as in Kratos's request builder.
METHODS_WITH_BODY = {"POST", "PUT", "PATCH"}
FORM = "application/x-www-form-urlencoded"
WEB_HOOK_TIMEOUT = "3s"  # `webhooks.timeout`'s default (shared/config/warden.config.schema.json)


def web_hook_timeout(settings: Any) -> float:
    """Seconds a flow waits for a synchronous hook (a `web_hook`, the password migration hook), from
    connecting to the last byte read: `webhooks.timeout`."""
    return parse_duration(settings.get("webhooks.timeout") or WEB_HOOK_TIMEOUT).total_seconds()


def request_headers(configured: Mapping[str, str], auth: Mapping[str, Any] | None) -> dict[str, str]:
    headers = {**configured, **auth_headers(auth)}
    if not content_type(headers):
        headers["Content-Type"] = "application/json"
    return headers


def content_type(headers: Mapping[str, str]) -> str:
    found = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return found.split(";")[0].strip().lower()


def encode_body(document: str, headers: Mapping[str, str]) -> bytes:
    """The Jsonnet output as JSON, or as a form when the config asks for one (as Twilio does)."""
    if content_type(headers) != FORM:
        return document.encode()
    fields = json.loads(document)
    if not isinstance(fields, dict):
        raise ValueError("a form body must be a Jsonnet object")
    return urlencode(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items() if v is not None}
    ).encode()


def auth_headers(auth: Mapping[str, Any] | None) -> dict[str, str]:
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
