"""Helpers for journeys that go through the mailbox: a Warden wired to a real SMTP server (verification
and recovery on, by code or by link), and readers for what the mails carry (the 6-digit code, the
link with its token).

    with mail_warden(directory, dsn, smtp, use="link") as stack:
        stack.frontend.create_native_recovery_flow()
        [mail] = wait_for_mail(stack.smtp, "alice@example.com")
        link_in(mail, "recovery")  # http://127.0.0.1:4433/self-service/recovery?flow=…&token=…
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ory_kratos_client as kratos
import pytest
from ory_kratos_client.api.courier_api import CourierApi
from ory_kratos_client.api.frontend_api import FrontendApi
from ory_kratos_client.api.identity_api import IdentityApi
from ory_kratos_client.exceptions import ApiException

from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import CONFIGURED_BASE, UI, Browser, database, selfservice_settings
from tests.smtp import Received, SmtpServer

SENDER = "no-reply@warden.test"
VERIFICATION_UI = f"{UI}/verification"
RECOVERY_UI = f"{UI}/recovery"
SETTINGS_UI = f"{UI}/settings"
_CODE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(?![0-9A-Za-z])")


# --- a Warden that sends mail ------------------------------------------------------------------


@dataclass
class MailStack:
    """A running Warden, Kratos SDK clients on its ports, and the SMTP server it sends to."""

    warden: ThreadedWarden
    smtp: SmtpServer
    frontend: FrontendApi
    identities: IdentityApi
    courier: CourierApi

    @property
    def public_url(self) -> str:
        return self.warden.public_url.rstrip("/")

    def browser(self, *, json: bool = True) -> Browser:
        return Browser(self.public_url, json=json)

    def local(self, url: str) -> str:
        """A URL on the configured base URL (http://127.0.0.1:4433), sent to the running server."""
        return local_url(url, self.public_url)


def mail_config(
    smtp: SmtpServer,
    *,
    use: str = "code",
    notify_unknown: bool = False,
    privileged_max_age: str | None = None,
    settings_lifespan: str | None = None,
    recovery_after: str | None = None,
    profile_hooks: list[dict[str, Any]] | None = None,
    templates: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The `selfservice_settings` options: verification and recovery on (`use`: code or link), the
    `session` and `show_verification_ui` hooks after password registration, and the courier on the
    SMTP server with fast polling. `profile_hooks`: `settings.after.profile.hooks`; `templates`:
    `courier.templates`."""
    settings: dict[str, Any] = {"ui_url": SETTINGS_UI}
    if profile_hooks:
        settings["after"] = {"profile": {"hooks": profile_hooks}}
    if privileged_max_age:
        settings["privileged_session_max_age"] = privileged_max_age
    if settings_lifespan:
        settings["lifespan"] = settings_lifespan
    flows = {
        "registration": {"after": {"password": {"hooks": [{"hook": "session"}, {"hook": "show_verification_ui"}]}}},
        "verification": {"enabled": True, "use": use, "ui_url": VERIFICATION_UI},
        "recovery": {"enabled": True, "use": use, "ui_url": RECOVERY_UI, "notify_unknown_recipients": notify_unknown},
        "settings": settings,
    }
    if recovery_after:
        flows["recovery"]["after"] = {"default_browser_return_url": recovery_after}
    methods = {"password": {"enabled": True}, "code": {"enabled": True}, "link": {"enabled": use == "link"}}
    courier = {
        "smtp": {"connection_uri": smtp.uri, "from_address": SENDER, "from_name": "Warden"},
        "worker": {"pull_wait": "50ms"},
    }
    if templates:
        courier["templates"] = templates
    return {"session_hook": False, "flows": flows, "methods": methods, "courier": courier}


@contextmanager
def mail_warden(directory: Path, dsn: str, smtp: SmtpServer, **config: Any) -> Iterator[MailStack]:
    settings = selfservice_settings(directory, dsn, **mail_config(smtp, **config))
    with ExitStack() as stack:
        warden = stack.enter_context(running_warden(settings))
        public = stack.enter_context(kratos.ApiClient(kratos.Configuration(host=warden.public_url)))
        admin = stack.enter_context(kratos.ApiClient(kratos.Configuration(host=warden.admin_url)))
        yield MailStack(warden, smtp, FrontendApi(public), IdentityApi(admin), CourierApi(admin))


def mail_stack(
    kind: str, name: str, factory: pytest.TempPathFactory, smtp: SmtpServer, **config: Any
) -> Iterator[MailStack]:
    """A module fixture's body: `mail_warden` on a database of `kind` ("sqlite" or "postgres") of
    its own, in a directory named after the fixture."""
    directory = factory.mktemp(f"mail-{name}-{kind}")
    with database(kind, directory) as dsn, mail_warden(directory, dsn, smtp, **config) as stack:
        yield stack


# --- the mailbox -------------------------------------------------------------------------------


def wait_for_mail(smtp: SmtpServer, recipient: str, count: int = 1, timeout: float = 10.0) -> list[Received]:
    """The mails to `recipient`, once at least `count` arrived."""
    deadline = time.monotonic() + timeout
    while len(found := smtp.to(recipient)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} of {count} mails to {recipient} arrived within {timeout}s")
        time.sleep(0.02)
    return found


def code_in(mail: Received) -> str:
    """The 6-digit code a mail carries (in its subject and its body, the same one)."""
    in_subject = _CODE.findall(mail.subject)
    assert len(in_subject) == 1, f"no single code in {mail.subject!r}"
    assert in_subject[0] in _CODE.findall(mail.text), "the body carries the subject's code"
    return in_subject[0]


def link_in(mail: Received, kind: str) -> str:
    """The `…/self-service/<kind>?…` URL in a mail's plain-text body."""
    found = re.findall(rf"https?://[^\s\"'<>]+/self-service/{kind}\?[^\s\"'<>]+", mail.text)
    assert found, f"no {kind} link in {mail.text!r}"
    return found[0]


def local_url(url: str, public_url: str) -> str:
    if url.startswith(CONFIGURED_BASE):
        return public_url.rstrip("/") + url[len(CONFIGURED_BASE) :]
    parts = urlsplit(url)
    return public_url.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")


# --- answers -----------------------------------------------------------------------------------


def attempt(call: Callable[[], Any]) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of an SDK call, whether it succeeds or not (Kratos answers some
    rejected submissions with 200 and the flow, Warden with 400 and the flow: the flow is the
    answer either way)."""
    try:
        result = call()
    except ApiException as exc:
        return exc.status, json.loads(exc.body) if exc.body else {}
    body = result.to_dict() if hasattr(result, "to_dict") else result
    return 200, json.loads(json.dumps(body, default=str))


def ui_message_ids(flow: dict[str, Any]) -> list[int]:
    return [m["id"] for m in (flow.get("ui") or {}).get("messages") or []]
