"""Findings of the review of account takeover and pre-hijacking across the self-service flows, each
driven over real HTTP as an attacker who knows the victim's address would drive it: with their own
browser or app, the public API and, at times, a mailbox the victim has since given up."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from tests.code_helpers import CodeStack, Native, SmsSink, code_config
from tests.factories import running_warden
from tests.selfservice_helpers import UI, message_ids, selfservice_settings
from tests.smtp import SmtpServer


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[CodeStack]:
    sms = SmsSink()
    config = code_config(smtp, sms)
    config["flows"]["recovery"] = {"enabled": True, "use": "code", "ui_url": f"{UI}/recovery"}
    config["flows"]["verification"] = {"enabled": True, "use": "code", "ui_url": f"{UI}/verification"}
    directory = tmp_path_factory.mktemp("account-takeover")
    settings = selfservice_settings(
        directory, f"sqlite://{directory}/w.sqlite", rate_limits={"enabled": False}, **config
    )
    with running_warden(settings) as warden:
        yield CodeStack(warden, smtp, sms)
    sms.close()


def _email() -> str:
    return f"victim-{uuid.uuid4().hex[:10]}@example.com"


def _signed_up_by_code(stack: CodeStack, email: str) -> dict[str, Any]:
    native = stack.native
    flow = native.get("/self-service/registration/api").json()
    body: dict[str, Any] = {"method": "code", "traits": {"email": email}}
    native.post(f"/self-service/registration?flow={flow['id']}", body)
    done = native.post(f"/self-service/registration?flow={flow['id']}", {**body, "code": stack.mailed_code(email)})
    assert done.status == 200, done.data
    return dict(done.json())


def _move_address(stack: CodeStack, identity_id: str, email: str) -> None:
    moved = urllib3.request(
        "PUT",
        f"{stack.warden.admin_url}/admin/identities/{identity_id}",
        json={"schema_id": "default", "traits": {"email": email}, "state": "active"},
    )
    assert moved.status == 200, moved.data


def test_a_sign_in_code_sent_before_its_address_was_taken_off_no_longer_signs_in(stack: CodeStack) -> None:
    """The owner of an account learns that someone reads the mailbox of its address (a former
    employer's, a breached one) and moves the account to another address. A sign-in code the
    intruder had asked for a moment before still signed in to the account for the code's lifetime:
    recovery, verification and the code as a second factor refuse a code whose address the account
    has given up since it was sent; the passwordless sign-in did not."""
    old = _email()
    identity = _signed_up_by_code(stack, old)["identity"]
    native: Native = stack.native
    flow = native.get("/self-service/login/api").json()
    sent = native.post(f"/self-service/login?flow={flow['id']}", {"method": "code", "identifier": old})
    assert sent.status == 400 and sent.json()["state"] == "sent_email", sent.data
    code = stack.mailed_code(old, count=2)  # the first was the sign-up's
    _move_address(stack, identity["id"], _email())
    answer = native.post(f"/self-service/login?flow={flow['id']}", {"method": "code", "identifier": old, "code": code})
    assert answer.status == 400 and "session_token" not in answer.json(), answer.data
    assert message_ids(answer.json()) == [4010008], answer.data
