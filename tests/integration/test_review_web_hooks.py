"""Web hooks under attack, through real HTTP with a real receiver (tests/webhook_receiver.py):

- a body template fed a hostile `transient_payload` (nested arrays, whose Jsonnet output grows with
  depth times size) is evaluated apart, bounded in memory and time: the flow gets Kratos's 502 at
  once, and Warden keeps answering everyone else meanwhile;
- a plain hook whose receiver acted but answered 500 (or timed out) is delivered again by the
  courier: its first call carries the `Idempotency-Key` the retries carry, so the receiver can tell
  the retry from a second registration;
- a remote body template whose URL carries an API key in its query string, and which cannot be
  fetched, is logged without the key."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.conftest import unique
from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import PASSWORD, selfservice_settings
from tests.webhook_receiver import Received, WebhookReceiver

ECHO = "base64://" + base64.b64encode(b"function(ctx) { payload: ctx.flow.transient_payload }").decode()
GUARD = urllib3.Timeout(total=60)  # only so that a blocked Warden fails the test instead of hanging it


def hook(url: str, **extra: Any) -> dict[str, Any]:
    return {"hook": "web_hook", "config": {"url": url, "method": "POST", "body": ECHO, **extra}}


def answer(request: Received) -> tuple[int, Any, dict[str, str]]:
    """`/flaky` acts on every call (records it) but answers the first of each flow's 500."""
    if request.path == "/flaky" and len([r for r in FLAKY.requests("/flaky") if r.body == request.body]) == 1:
        return 500, {"error": "stored, then crashed"}, {}
    if request.path == "/template.jsonnet":
        return 404, {"error": "gone"}, {}
    return 200, None, {}


TEMPLATE_KEY = "template-key-secret-4471"
FLAKY = WebhookReceiver(answer)


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    found = FLAKY.start()
    yield found
    found.close()


@pytest.fixture(scope="module")
def warden(receiver: WebhookReceiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory: Path = tmp_path_factory.mktemp("review-web-hooks")
    keyed_template = hook(receiver.url("/templated"))
    keyed_template["config"]["body"] = receiver.url(f"/template.jsonnet?api_key={TEMPLATE_KEY}")
    hooks = [
        hook(receiver.url("/gate"), can_interrupt=True),
        {"hook": "session"},
        hook(receiver.url("/flaky")),
        keyed_template,
    ]
    flows = {"registration": {"after": {"password": {"hooks": hooks}}}}
    settings = selfservice_settings(
        directory,
        f"sqlite://{directory}/warden.sqlite",
        session_hook=False,
        flows=flows,
        webhooks={"timeout": "3s", "delivery": {"initial_backoff": "100ms"}},
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


def test_a_plain_hook_s_retry_carries_the_idempotency_key_of_the_call_the_receiver_acted_on(
    warden: ThreadedWarden, receiver: WebhookReceiver
) -> None:
    marker = unique("retried")
    status, body = register(warden, f"{marker}@example.com", transient_payload={"marker": marker})
    assert status == 200, body
    while len(calls := [r for r in receiver.wait_for(1, "/flaky") if marker in r.body.decode()]) < 2:
        receiver.wait_for(len(receiver.requests("/flaky")) + 1, "/flaky")
    first, retry = calls[:2]
    assert first.headers.get("Idempotency-Key"), "the flow's own call carries a key"
    assert retry.headers.get("Idempotency-Key") == first.headers["Idempotency-Key"], "the retry carries the same"


def test_a_template_url_s_api_key_never_reaches_the_logs(
    warden: ThreadedWarden, receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    status, body = register(warden, f"{unique('keyed')}@example.com", transient_payload={})
    assert status == 200, body
    assert receiver.requests("/template.jsonnet"), "the template was asked for"
    logged = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    assert "body template could not be fetched" in logged and "404" in logged
    assert TEMPLATE_KEY not in logged
