"""Web hooks under attack, through real HTTP with a real receiver (tests/webhook_receiver.py):

- a body template fed a hostile `transient_payload` (nested arrays, whose Jsonnet output grows with
  depth times size) is evaluated apart, bounded in memory and time: the flow gets Kratos's 502 at
  once, and Warden keeps answering everyone else meanwhile;"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.conftest import unique
from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import PASSWORD, selfservice_settings
from tests.webhook_receiver import WebhookReceiver

ECHO = "base64://" + base64.b64encode(b"function(ctx) { payload: ctx.flow.transient_payload }").decode()
GUARD = urllib3.Timeout(total=60)  # only so that a blocked Warden fails the test instead of hanging it


def hook(url: str, **extra: Any) -> dict[str, Any]:
    return {"hook": "web_hook", "config": {"url": url, "method": "POST", "body": ECHO, **extra}}


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    found = WebhookReceiver().start()
    yield found
    found.close()


@pytest.fixture(scope="module")
def warden(receiver: WebhookReceiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory: Path = tmp_path_factory.mktemp("review-web-hooks")
    hooks = [hook(receiver.url("/gate"), can_interrupt=True), {"hook": "session"}]
    flows = {"registration": {"after": {"password": {"hooks": hooks}}}}
    settings = selfservice_settings(
        directory, f"sqlite://{directory}/warden.sqlite", session_hook=False, flows=flows, webhooks={"timeout": "3s"}
    )
    with running_warden(settings) as running:
        yield running


def register(warden: ThreadedWarden, email: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    flow = urllib3.request("GET", f"{warden.public_url}/self-service/registration/api", timeout=GUARD).json()
    response = urllib3.request(
        "POST",
        f"{warden.public_url}/self-service/registration?flow={flow['id']}",
        json={"method": "password", "traits": {"email": email}, "password": PASSWORD, **extra},
        timeout=GUARD,
    )
    return response.status, json.loads(response.data)


def test_a_payload_that_blows_up_the_body_template_fails_the_flow_and_holds_nothing_up(
    warden: ThreadedWarden, receiver: WebhookReceiver
) -> None:
    """60 kB of arrays nested 450 deep: in-process, minutes of CPU with Warden's loop stopped."""
    depth, leaves = 450, 30_000
    bomb = json.loads("[" * depth + ",".join(["1"] * leaves) + "]" * depth)
    email = f"{unique('bomb')}@example.com"
    status, body = register(warden, email, transient_payload={"bomb": bomb})
    assert status == 502 and body["error"]["code"] == 502, body
    assert not [r for r in receiver.requests("/gate") if "bomb" in r.body.decode()], "nothing was sent"
    status, body = register(warden, f"{unique('fine')}@example.com", transient_payload={"plan": "pro"})
    assert status == 200, body
    assert [r.json()["payload"] for r in receiver.requests("/gate")][-1] == {"plan": "pro"}
