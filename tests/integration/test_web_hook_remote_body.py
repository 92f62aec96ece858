"""A `web_hook` whose `body` is an `http://` Jsonnet template, served by a real HTTP server on
loopback: fetching it counts against the hook's `webhooks.timeout`, as the call does (a slow
template host holds the flow up no longer than a slow receiver), and a fetched template is kept
for a while instead of being fetched again for every call."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from tests.conftest import unique
from tests.factories import ThreadedWarden, running_warden
from tests.integration.test_web_hooks import register
from tests.selfservice_helpers import sqlite_selfservice_settings
from tests.webhook_receiver import Received, WebhookReceiver

HOOK_TIMEOUT_SECONDS = 1
SLOW_TEMPLATE_SECONDS = 5  # far beyond the hook's timeout, far below the 30 s of a plain fetch
TEMPLATE = {"sent_by": "remote template"}  # JSON is Jsonnet: a template that ignores its ctx


def _answer(request: Received) -> tuple[int, Any, dict[str, str]]:
    return (200, TEMPLATE, {}) if request.path.endswith(".jsonnet") else (204, None, {})


def _delay(request: Received) -> float:
    return SLOW_TEMPLATE_SECONDS if request.path == "/slow.jsonnet" else 0.0


@pytest.fixture(scope="module")
def server() -> Iterator[WebhookReceiver]:
    """Serves the templates and receives the calls."""
    found = WebhookReceiver(_answer, _delay).start()
    yield found
    found.close()


def _hook(url: str, body: str, **extra: Any) -> dict[str, Any]:
    return {"hook": "web_hook", "config": {"url": url, "method": "POST", "body": body, **extra}}


@pytest.fixture(scope="module")
def warden(server: WebhookReceiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("web-hook-remote-body")
    registration = [_hook(server.url("/after-fast"), server.url("/fast.jsonnet"))]
    login = [_hook(server.url("/gate"), server.url("/slow.jsonnet"), can_interrupt=True)]
    settings = sqlite_selfservice_settings(
        directory,
        session_hook=False,
        flows={
            "registration": {"after": {"password": {"hooks": registration}}},
            "login": {"before": {"hooks": login}},
        },
        webhooks={"timeout": f"{HOOK_TIMEOUT_SECONDS}s"},
    )
    with running_warden(settings) as running:
        yield running


def test_a_slow_template_host_holds_the_flow_up_no_longer_than_the_hooks_timeout(
    warden: ThreadedWarden, server: WebhookReceiver
) -> None:
    started = time.monotonic()
    answer = urllib3.request("GET", f"{warden.public_url}/self-service/login/api", timeout=30).status
    took = time.monotonic() - started
    assert took < HOOK_TIMEOUT_SECONDS + 1.5, f"the flow waited {took:.1f}s for the template"
    assert answer >= 500, "an interrupting hook without its body fails the flow"
    assert server.requests("/gate") == [], "no call without the body"


def test_a_fetched_template_is_kept_for_the_next_calls(warden: ThreadedWarden, server: WebhookReceiver) -> None:
    emails = [f"{unique('kept')}@example.com" for _ in range(3)]
    for email in emails:
        status, body = register(warden, email)
        assert status == 200, body
    calls = server.wait_for(3, "/after-fast")
    assert [c.json() for c in calls[-3:]] == [TEMPLATE] * 3
    assert len(server.requests("/fast.jsonnet")) == 1
