"""The courier's HTTP channel under a hostile `transient_payload`, through real HTTP: anyone may ask
for a sign-in code with any payload, and the channel's Jsonnet body reads the message's template
data, which carries it. Nested arrays there make an output that grows with their depth times their
size (80 kB nested 200 deep: 24 MB of body; the bus's events hold no more than some 250 levels). The body is evaluated in the courier's sandbox (shared/jsonnet_sandbox.py),
so that message fails as a failing template does (recorded, tried again, here abandoned at once:
`courier.message_retries: 0`) and the next message is delivered."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from tests.code_helpers import CodeStack, SmsSink, code_config, code_warden, sms_code
from tests.smtp import SmtpServer

# An operator's SMS body that passes the flow's payload on to the gateway (as a campaign tag, say).
ECHO = "function(ctx) { recipient: ctx.recipient, body: ctx.body, payload: ctx.template_data.transient_payload }"
GUARD = urllib3.Timeout(total=60)  # only so that a blocked Warden fails the test instead of hanging it


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer, sms: SmsSink) -> Iterator[CodeStack]:
    directory = tmp_path_factory.mktemp("courier-jsonnet")
    courier = code_config(smtp, sms)["courier"]
    courier["channels"][0]["request_config"]["body"] = "base64://" + base64.b64encode(ECHO.encode()).decode()
    courier["message_retries"] = 0
    dsn = f"sqlite://{directory}/warden.sqlite"
    with code_warden(directory, dsn, smtp, sms, phone=True, top={"courier": courier}) as running:
        yield running


def _known_phone(stack: CodeStack) -> str:
    phone = f"+4915{uuid.uuid4().int % 10**9:09d}"
    created = urllib3.request(
        "POST", f"{stack.warden.admin_url}/admin/identities", json={"schema_id": "phone", "traits": {"phone": phone}}
    )
    assert created.status == 201, created.data
    return phone


def _ask_for_code(stack: CodeStack, phone: str, payload: Any) -> str:
    flow = stack.native.get("/self-service/login/api").json()
    body = {"method": "code", "identifier": phone, "transient_payload": payload}
    sent = stack.native.post(f"/self-service/login?flow={flow['id']}", body)
    assert sent.status == 400, sent  # the form that asks for the code
    return str(flow["id"])


def _admin(stack: CodeStack, path: str, **fields: str) -> Any:
    answer = urllib3.request("GET", f"{stack.warden.admin_url}/admin/courier{path}", fields=fields, timeout=GUARD)
    assert answer.status == 200, answer.data
    return json.loads(answer.data)


def _abandoned(stack: CodeStack, phone: str, wait: float = 30.0) -> dict[str, Any]:
    """The message to `phone` once the courier has given up on it."""
    deadline = time.monotonic() + wait
    while True:
        listed = _admin(stack, "/messages", recipient=phone)
        if listed and listed[0]["status"] == "abandoned":
            found: dict[str, Any] = _admin(stack, f"/messages/{listed[0]['id']}")
            return found
        assert not listed or listed[0]["status"] != "sent", "the body was evaluated and sent"
        if time.monotonic() > deadline:
            raise AssertionError(f"the message to {phone} was not abandoned: {[m['status'] for m in listed]}")
        time.sleep(0.05)


def test_a_payload_that_blows_up_the_sms_body_fails_its_message_and_the_next_code_arrives(
    stack: CodeStack, sms: SmsSink
) -> None:
    depth, leaves = 200, 40_000
    bomb = json.loads("[" * depth + ",".join(["1"] * leaves) + "]" * depth)
    phone = _known_phone(stack)
    _ask_for_code(stack, phone, {"bomb": bomb})
    failed = _abandoned(stack, phone)
    [dispatch] = failed["dispatches"]
    assert "JsonnetError" in dispatch["error"]["message"], dispatch
    assert sms.to(phone) == [], "nothing was sent"

    flow_id = _ask_for_code(stack, phone, {"plan": "pro"})
    [texted] = sms.wait_for(phone)
    assert texted["payload"] == {"plan": "pro"}
    signed_in = stack.native.post(
        f"/self-service/login?flow={flow_id}", {"method": "code", "identifier": phone, "code": sms_code(texted)}
    )
    assert signed_in.status == 200, signed_in
    assert _admin(stack, "/messages", recipient=phone)[0]["status"] == "sent", "the courier still serves"
