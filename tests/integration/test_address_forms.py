"""The address form of recovery and verification, as Kratos's code strategy reads it: `method` names
the strategy (none, or another, and no strategy is responsible: 4010005 / 4010006) and `email` must
be written as an email address (`format: email`: 4000001 on its node). A refused form is a 400 with
the flow, which stays where it was, and no mail goes out."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from tests.factories import ThreadedWarden
from tests.mail_helpers import mail_warden, wait_for_mail
from tests.selfservice_helpers import create_identity, message_ids, node
from tests.smtp import SmtpServer

NO_STRATEGY = {"recovery": 4010005, "verification": 4010006}


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("address-forms")
    with mail_warden(directory, f"sqlite://{directory}/warden.sqlite", smtp, use="code") as stack:
        yield stack.warden


def _submit(warden: ThreadedWarden, kind: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    flow = json.loads(urllib3.request("GET", f"{warden.public_url}/self-service/{kind}/api").data)
    response = urllib3.request("POST", f"{warden.public_url}/self-service/{kind}?flow={flow['id']}", json=body)
    return response.status, json.loads(response.data)


@pytest.mark.parametrize("kind", ["recovery", "verification"])
@pytest.mark.parametrize("method", [None, "", "nope", "password"], ids=["absent", "empty", "unknown", "other"])
def test_a_form_without_the_strategy_s_method_is_no_strategy_s_and_sends_nothing(
    warden: ThreadedWarden, smtp: SmtpServer, kind: str, method: str | None
) -> None:
    email = f"{kind}-{uuid.uuid4().hex[:8]}@example.com"
    create_identity(warden.admin_url, email)
    body = {"email": email} if method is None else {"email": email, "method": method}
    status, flow = _submit(warden, kind, body)
    assert status == 400, flow
    assert flow["state"] == "choose_method" and message_ids(flow) == [NO_STRATEGY[kind]], flow
    # The same form with the method sends its mail: what was refused above was the method alone.
    status, sent = _submit(warden, kind, {"email": email, "method": "code"})
    assert status == 200 and sent["state"] == "sent_email", sent
    assert len(wait_for_mail(smtp, email)) == 1


@pytest.mark.parametrize("kind", ["recovery", "verification"])
@pytest.mark.parametrize("address", ["not-an-email", "a@b c", "@example.com"])
def test_an_address_that_is_not_an_email_is_4000001_on_its_node(
    warden: ThreadedWarden, kind: str, address: str
) -> None:
    status, flow = _submit(warden, kind, {"email": address, "method": "code"})
    assert status == 400, flow
    assert flow["state"] == "choose_method", flow
    [message] = node(flow, "email")["messages"]
    assert (message["id"], message["text"]) == (4000001, f'"{address}" is not valid "email"'), message


@pytest.mark.parametrize("kind", ["recovery", "verification"])
def test_an_address_in_another_case_or_width_is_still_an_email(
    warden: ThreadedWarden, smtp: SmtpServer, kind: str
) -> None:
    """Checked as its account is looked up: folded, so what signs in also recovers."""
    email = f"wide-{kind}-{uuid.uuid4().hex[:8]}@example.com"
    create_identity(warden.admin_url, email)
    status, sent = _submit(warden, kind, {"email": f" {email.upper()}", "method": "code"})
    assert status == 200 and sent["state"] == "sent_email", sent
    assert len(wait_for_mail(smtp, email)) == 1


INVALID_CODE = {"recovery": 4060006, "verification": 4070006}


@pytest.mark.parametrize("kind", ["recovery", "verification"])
@pytest.mark.parametrize("known", [True, False], ids=["known", "unknown"])
def test_a_wrong_code_is_a_200_with_the_flow_asking_for_another(
    warden: ThreadedWarden, smtp: SmtpServer, kind: str, known: bool
) -> None:
    """Kratos's `recoveryUseCode` and `verificationUseCode` put 4060006 / 4070006 on the flow, save
    it and write it as it is (200; a browser goes back to the UI): a mistyped code is a step of the
    flow, not a malformed submission. An unknown address's flow answers alike (enumeration)."""
    email = f"wrong-{kind}-{uuid.uuid4().hex[:8]}@example.com"
    if known:
        create_identity(warden.admin_url, email)
    flow = json.loads(urllib3.request("GET", f"{warden.public_url}/self-service/{kind}/api").data)
    url = f"{warden.public_url}/self-service/{kind}?flow={flow['id']}"
    sent = urllib3.request("POST", url, json={"email": email, "method": "code"})
    assert sent.status == 200, sent.data
    wrong = urllib3.request("POST", url, json={"code": "000000", "method": "code"})
    answer = json.loads(wrong.data)
    assert wrong.status == 200, answer
    assert answer["state"] == "sent_email" and message_ids(answer) == [INVALID_CODE[kind]], answer
    assert node(answer, "code")["attributes"].get("value") in (None, ""), "the wrong code is not echoed"
