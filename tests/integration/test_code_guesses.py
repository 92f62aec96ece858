"""Guesses at one-time codes count against the account they were sent for, across flows (checklist
BF-1, OTP-4): a flow allows five tries, but a new flow is one request away, so a recovery or
sign-in code could otherwise be guessed without end from a pool of client addresses. Past the
per-identifier throttle's free failures, the right code is refused too (429), until the block
ends. The per-IP windows are off here, as an attacker with many addresses would make them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from services.identity.throttle import FREE_FAILURES
from tests.code_helpers import CodeStack, Native, SmsSink, code_config
from tests.factories import running_warden
from tests.selfservice_helpers import UI, create_identity, message_ids, selfservice_settings
from tests.smtp import SmtpServer

WRONG = "000000"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[CodeStack]:
    sms = SmsSink()
    config = code_config(smtp, sms)
    config["flows"]["recovery"] = {"enabled": True, "use": "code", "ui_url": f"{UI}/recovery"}
    directory = tmp_path_factory.mktemp("code-guesses")
    settings = selfservice_settings(
        directory, f"sqlite://{directory}/w.sqlite", rate_limits={"enabled": False}, **config
    )
    with running_warden(settings) as warden:
        yield CodeStack(warden, smtp, sms)
    sms.close()


def _recovery(native: Native, email: str) -> str:
    flow = native.get("/self-service/recovery/api").json()
    sent = native.post(f"/self-service/recovery?flow={flow['id']}", {"method": "code", "email": email})
    assert sent.status == 200, sent.data
    return str(flow["id"])


def _guess(native: Native, kind: str, flow_id: str, code: str, **body: Any) -> Any:
    return native.post(f"/self-service/{kind}?flow={flow_id}", {"method": "code", "code": code, **body})


def _refused(answer: Any) -> None:
    """A wrong recovery code: Kratos's `recoveryUseCode` answers the flow with 4060006, as a 200."""
    assert answer.status == 200 and message_ids(answer.json()) == [4060006], answer.data


def test_recovery_code_guesses_across_flows_are_throttled_per_account(stack: CodeStack) -> None:
    email = "recovered@example.com"
    create_identity(stack.warden.admin_url, email)
    native = stack.native
    for sent in range(1, FREE_FAILURES + 1):  # a new flow, five more tries, each time
        last = _recovery(native, email)
        right = stack.mailed_code(email, count=sent)  # waited for: mails may arrive out of order
        _refused(_guess(native, "recovery", last, WRONG))
    _refused(_guess(native, "recovery", last, WRONG))  # the last free failure
    refused = _guess(native, "recovery", last, right)
    assert refused.status == 429 and message_ids(refused.json()) == [4290001], refused.data
    time.sleep(1.2)  # the first block is a second long
    recovered = _guess(native, "recovery", last, right)
    assert recovered.status == 200 and recovered.json()["state"] == "passed_challenge", message_ids(recovered.json())


def test_login_code_guesses_across_flows_are_throttled_per_account(stack: CodeStack) -> None:
    email = "coded@example.com"
    native = stack.native
    registration = native.get("/self-service/registration/api").json()
    native.post(f"/self-service/registration?flow={registration['id']}", {"method": "code", "traits": {"email": email}})
    native.post(
        f"/self-service/registration?flow={registration['id']}",
        {"method": "code", "traits": {"email": email}, "code": stack.mailed_code(email)},
    )
    flows: list[str] = []
    wrong = 0
    while wrong <= FREE_FAILURES:  # two wrong guesses a flow (the address gets 5 mails in 15 minutes)
        flow = native.get("/self-service/login/api").json()
        native.post(f"/self-service/login?flow={flow['id']}", {"method": "code", "identifier": email})
        flows.append(flow["id"])
        right = stack.mailed_code(email, count=1 + len(flows))  # waited for: mails may arrive out of order
        for _ in range(2):
            assert _guess(native, "login", flow["id"], WRONG, identifier=email).status == 400
            wrong += 1
    refused = _guess(native, "login", flows[-1], right, identifier=email)
    assert refused.status == 429, refused.data
    time.sleep(1.2)
    signed_in = _guess(native, "login", flows[-1], right, identifier=email)
    assert signed_in.status == 200 and "session_token" in signed_in.json(), signed_in.data


def test_guesses_for_an_identifier_without_an_account_are_throttled_alike(stack: CodeStack) -> None:
    """Else the throttle itself would tell which identifiers have an account."""
    native, nobody = stack.native, "nobody-here@example.com"
    flows = []
    for _ in range(FREE_FAILURES + 1):
        flow = native.get("/self-service/login/api").json()
        native.post(f"/self-service/login?flow={flow['id']}", {"method": "code", "identifier": nobody})
        flows.append(flow["id"])
        assert _guess(native, "login", flow["id"], WRONG, identifier=nobody).status == 400
    refused = _guess(native, "login", flows[-1], WRONG, identifier=nobody)
    assert refused.status == 429 and message_ids(refused.json()) == [4290001], refused.data


def test_sign_up_code_guesses_across_flows_are_throttled_per_address(stack: CodeStack) -> None:
    """A sign-up code proves its address: guessed without end (a new flow, five more tries, one
    request away), it would register an address its owner never saw as verified, an account waiting
    for them. Its guesses count against the address as a sign-in code's do."""
    email = "squatted@example.com"
    native = stack.native
    traits = {"email": email}
    flows = []
    for sent in range(1, FREE_FAILURES + 1):
        flow = native.get("/self-service/registration/api").json()
        native.post(f"/self-service/registration?flow={flow['id']}", {"method": "code", "traits": traits})
        flows.append(flow["id"])
        right = stack.mailed_code(email, count=sent)
        answer = _guess(native, "registration", flow["id"], WRONG, traits=traits)
        assert answer.status == 400, answer.data
    assert _guess(native, "registration", flows[-1], WRONG, traits=traits).status == 400  # the last free failure
    refused = _guess(native, "registration", flows[-1], right, traits=traits)
    assert refused.status == 429 and message_ids(refused.json()) == [4290001], refused.data
    time.sleep(1.2)
    registered = _guess(native, "registration", flows[-1], right, traits=traits)
    assert registered.status == 200 and registered.json()["identity"]["traits"] == traits, registered.data
