"""Helpers for the passwordless journeys (login and registration by code): a Warden with the code
method's `passwordless_enabled`, mail to the real SMTP server and SMS to an HTTP sink on loopback,
and a native (API-flow) client that shows every status and byte.

    with code_warden(directory, dsn, smtp, sms) as stack:
        flow = stack.native.get("/self-service/registration/api").json()
        stack.native.post(f"/self-service/registration?flow={flow['id']}", {"method": "code", "traits": {...}})
        sms.wait_for("+4915112345678")  # the requests the courier's HTTP channel made
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import urllib3

from tests.factories import ThreadedWarden, running_warden
from tests.mail_helpers import SENDER, code_in, wait_for_mail
from tests.selfservice_helpers import UI, Browser, Response, selfservice_settings
from tests.smtp import SmtpServer

PHONE_SCHEMA: dict[str, Any] = {
    "$id": "https://warden.test/schemas/phone.json",
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "traits": {
            "type": "object",
            "properties": {
                "phone": {
                    "type": "string",
                    "format": "tel",
                    "title": "Phone number",
                    "ory.sh/kratos": {
                        "credentials": {"code": {"identifier": True, "via": "sms"}},
                        "verification": {"via": "sms"},
                    },
                }
            },
            "required": ["phone"],
            "additionalProperties": False,
        }
    },
}
_SMS_CODE = re.compile(r"(?<![0-9])([0-9]{6})(?![0-9])")


# --- an SMS gateway ----------------------------------------------------------------------------


class SmsSink:
    """An HTTP server on loopback taking what the courier's `sms` channel posts (Kratos's default
    Jsonnet body: recipient, template_type, body, …)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sink.received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/sms"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def to(self, recipient: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m.get("recipient") == recipient]

    def wait_for(self, recipient: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(found := self.to(recipient)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} SMS to {recipient} arrived within {timeout}s")
            time.sleep(0.02)
        return found

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def sms_code(message: dict[str, Any]) -> str:
    [code] = _SMS_CODE.findall(message["body"])
    return str(code)


# --- a native client ---------------------------------------------------------------------------


class Native:
    """An app using API flows: JSON in and out, no cookies, every answer returned as it came."""

    def __init__(self, public_url: str) -> None:
        self.public_url = public_url.rstrip("/")
        self._http = urllib3.PoolManager()

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Response:
        return self._request("GET", path, None, headers)

    def post(self, path: str, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Response:
        return self._request("POST", path, body, headers)

    def _request(
        self, method: str, path: str, body: Mapping[str, Any] | None, headers: Mapping[str, str] | None
    ) -> Response:
        sent = {"Accept": "application/json", **(headers or {})}
        kw: dict[str, Any] = {"json": dict(body)} if body is not None else {}
        raw = self._http.request(method, self.public_url + path, headers=sent, redirect=False, retries=False, **kw)
        return Response(raw)


# --- a Warden that signs people in by code -------------------------------------------------------


@dataclass
class CodeStack:
    warden: ThreadedWarden
    smtp: SmtpServer
    sms: SmsSink

    @property
    def public_url(self) -> str:
        return self.warden.public_url.rstrip("/")

    @property
    def native(self) -> Native:
        return Native(self.public_url)

    def browser(self, *, json: bool = False) -> Browser:
        return Browser(self.public_url, json=json)

    def mailed_code(self, email: str, count: int = 1) -> str:
        return code_in(wait_for_mail(self.smtp, email, count)[count - 1])

    def texted_code(self, phone: str, count: int = 1) -> str:
        return sms_code(self.sms.wait_for(phone, count)[count - 1])


def code_config(
    smtp: SmtpServer,
    sms: SmsSink,
    *,
    login_style: str | None = None,
    registration_style: str | None = None,
    code_config: Mapping[str, Any] | None = None,
    mfa: bool = False,
) -> dict[str, Any]:
    """`selfservice_settings` options: password and passwordless code on (`mfa`: the code as a
    second factor instead, Kratos's schema takes one or the other), the `session` hook after both
    registrations, the courier on the SMTP server and the SMS sink, with fast polling."""
    hooks = {"hooks": [{"hook": "session"}]}
    flows: dict[str, Any] = {"registration": {"after": {"password": hooks, "code": hooks}}}
    if login_style:
        flows["login"] = {"ui_url": f"{UI}/login", "style": login_style}
    if registration_style:
        flows["registration"]["style"] = registration_style
    code: dict[str, Any] = {"enabled": True, "passwordless_enabled": not mfa, "mfa_enabled": mfa}
    if code_config:
        code["config"] = dict(code_config)
    courier = {
        "smtp": {"connection_uri": smtp.uri, "from_address": SENDER, "from_name": "Warden"},
        "worker": {"pull_wait": "50ms"},
        "channels": [{"id": "sms", "type": "http", "request_config": {"url": sms.url, "method": "POST"}}],
    }
    return {
        "session_hook": False,
        "flows": flows,
        "methods": {"password": {"enabled": True}, "code": code},
        "courier": courier,
    }


@contextmanager
def code_warden(
    directory: Path,
    dsn: str,
    smtp: SmtpServer,
    sms: SmsSink,
    *,
    phone: bool = False,
    schema: Mapping[str, Any] | None = None,
    top: Mapping[str, Any] | None = None,
    **options: Any,
) -> Iterator[CodeStack]:
    """`phone`: PHONE_SCHEMA (id `phone`) as the default identity schema; `schema`: that one (id
    `custom`) instead; `top`: more top-level config keys (`feature_flags`, say)."""
    config = {**code_config(smtp, sms, **options), **(top or {})}
    if phone or schema is not None:
        schema_id = "phone" if phone else "custom"
        (directory / f"{schema_id}.schema.json").write_text(json.dumps(PHONE_SCHEMA if phone else schema))
        config["identity"] = {
            "default_schema_id": schema_id,
            "schemas": [{"id": schema_id, "url": f"file://{directory}/{schema_id}.schema.json"}],
        }
    settings = selfservice_settings(directory, dsn, **config)
    with running_warden(settings) as warden:
        yield CodeStack(warden, smtp, sms)
