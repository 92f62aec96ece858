"""The client's `rate_limits.per_ip.code_send` window counts the code method's own messages, as it
counts recovery and verification ones (docs/security.md): a sign-in code (passwordless, or a second
factor) and a sign-up code, first sent or resent. Without it a client could have Warden text a new
number of its choosing with every login (with `notify_unknown_recipients` on, each unknown number
gets a notice) or sign-up, at the login or registration window's pace: SMS pumping. The per-address
budget (send_budget.py) does not help when the number changes every time.

Past the window the answer is the one every `code_send` refusal gets (address_flow.py): the flow,
unchanged, with 4290001, as a 429 with Retry-After; and nothing is sent. Whether the identifier has
an account changes neither the answer nor the count."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from itertools import count
from typing import Any

import pytest
import urllib3

from tests.code_helpers import CodeStack, SmsSink, code_warden
from tests.mail_helpers import wait_for_mail
from tests.selfservice_helpers import PASSWORD, Browser, Response, database, query_param
from tests.smtp import SmtpServer

SENDS = 3  # each client's code_send window
LIMITS = {
    "enabled": True,
    "per_ip": {
        "code_send": {"limit": SENDS, "window": "1h"},
        # Wide enough not to be what stops these tests: the code_send window must.
        "login": {"limit": 1000, "window": "1h"},
        "registration": {"limit": 1000, "window": "1h"},
    },
}
# Each test is a client of its own, named by the proxy Warden trusts.
TOP = {"rate_limits": LIMITS, "serve": {"public": {"trusted_proxies": ["127.0.0.1"]}}}
_clients = count(1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer, sms: SmsSink) -> Iterator[CodeStack]:
    """Passwordless code for phone numbers (PHONE_SCHEMA), unknown numbers told by SMS."""
    directory = tmp_path_factory.mktemp("code-send-window")
    notify = {"notify_unknown_recipients": True}
    with (
        database("sqlite", directory) as dsn,
        code_warden(directory, dsn, smtp, sms, phone=True, code_config=notify, top=TOP) as running,
    ):
        yield running


@pytest.fixture(scope="module")
def mfa(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer, sms: SmsSink) -> Iterator[CodeStack]:
    """The code as a second factor, by mail."""
    directory = tmp_path_factory.mktemp("code-send-window-mfa")
    with database("sqlite", directory) as dsn, code_warden(directory, dsn, smtp, sms, mfa=True, top=TOP) as running:
        yield running


@pytest.fixture
def client() -> dict[str, str]:
    """The headers of a client of this test's own."""
    return {"X-Forwarded-For": f"203.0.113.{next(_clients)}"}


def _phone() -> str:
    return f"+4915{uuid.uuid4().int % 10**9:09d}"


def _known_phone(stack: CodeStack) -> str:
    phone = _phone()
    body = {"schema_id": "phone", "traits": {"phone": phone}}
    created = urllib3.request("POST", f"{stack.warden.admin_url}/admin/identities", json=body)
    assert created.status == 201, created.data
    return phone


def _ask(stack: CodeStack, kind: str, body: dict[str, Any], client: dict[str, str]) -> Response:
    flow = stack.native.get(f"/self-service/{kind}/api", client).json()
    return stack.native.post(f"/self-service/{kind}?flow={flow['id']}", body, client)


def _login_code(stack: CodeStack, phone: str, client: dict[str, str]) -> Response:
    return _ask(stack, "login", {"method": "code", "identifier": phone}, client)


def _sign_up_code(stack: CodeStack, phone: str, client: dict[str, str]) -> Response:
    return _ask(stack, "registration", {"method": "code", "traits": {"phone": phone}}, client)


def _message_ids(flow: dict[str, Any]) -> list[int]:
    return [m["id"] for m in flow["ui"].get("messages") or []]


def _sent(answer: Response) -> None:
    assert answer.status == 400 and answer.json()["state"] == "sent_email", answer


def _refused(answer: Response, state: str = "choose_method") -> dict[str, Any]:
    """The code_send refusal: 429 with Retry-After, the flow as it was with 4290001 (no code screen)."""
    assert answer.status == 429, answer
    assert 1 <= int(answer.headers["Retry-After"]) <= 3600, answer.headers
    flow: dict[str, Any] = answer.json()
    assert flow["state"] == state and _message_ids(flow) == [4290001], flow
    return flow


def _nothing_texted(stack: CodeStack, numbers: list[str], already: int = 0) -> None:
    """No (further: past `already`) text to any of `numbers`, once a text asked for later (by another
    client) has come: the courier takes the events in order, so one for them would have come by then."""
    marker = _phone()
    _sent(_login_code(stack, marker, {"X-Forwarded-For": f"198.51.100.{next(_clients)}"}))
    stack.sms.wait_for(marker)
    assert {n: len(stack.sms.to(n)) for n in numbers} == {n: already for n in numbers}


def test_login_codes_to_ever_new_numbers_stop_at_the_clients_code_send_window(
    stack: CodeStack, client: dict[str, str]
) -> None:
    numbers = [_phone() for _ in range(SENDS + 2)]
    for number in numbers[:SENDS]:
        _sent(_login_code(stack, number, client))
    for number in numbers[SENDS:]:
        _refused(_login_code(stack, number, client))
    for number in numbers[:SENDS]:
        [notice] = stack.sms.wait_for(number)
        assert notice["template_type"] == "login_code_invalid"
    _nothing_texted(stack, numbers[SENDS:])


def test_sign_up_codes_to_ever_new_numbers_stop_at_the_clients_code_send_window(
    stack: CodeStack, client: dict[str, str]
) -> None:
    numbers = [_phone() for _ in range(SENDS + 2)]
    for number in numbers[:SENDS]:
        _sent(_sign_up_code(stack, number, client))
    for number in numbers[SENDS:]:
        _refused(_sign_up_code(stack, number, client))
    for number in numbers[:SENDS]:
        [code] = stack.sms.wait_for(number)
        assert code["template_type"] == "registration_code_valid"
    _nothing_texted(stack, numbers[SENDS:])


def test_an_ipv6_client_cannot_leave_its_window_by_changing_address_within_its_64(stack: CodeStack) -> None:
    """An IPv6 subscriber is handed a /64 (at least) and picks any address in it at will: counted
    per address, one host would get a fresh window per address, a new number texted from each. The
    window is the /64's; another /64 is another client. An IPv4 address written as IPv6 is that
    IPv4 address."""
    block = f"2001:db8:{next(_clients):x}:1"
    numbers = [_phone() for _ in range(SENDS + 1)]
    for i, number in enumerate(numbers[:SENDS], start=1):
        _sent(_login_code(stack, number, {"X-Forwarded-For": f"{block}::{i:x}"}))
    _refused(_login_code(stack, numbers[SENDS], {"X-Forwarded-For": f"{block}:ffff:ffff:ffff:ffff"}))
    _nothing_texted(stack, numbers[SENDS:])
    _sent(_login_code(stack, _phone(), {"X-Forwarded-For": f"2001:db8:{next(_clients):x}:2::1"}))
    v4 = next(_clients)
    for _ in range(SENDS):
        _sent(_login_code(stack, _phone(), {"X-Forwarded-For": f"203.0.113.{v4}"}))
    _refused(_login_code(stack, _phone(), {"X-Forwarded-For": f"::ffff:203.0.113.{v4}"}))


def test_resending_a_code_counts_too(stack: CodeStack, client: dict[str, str]) -> None:
    """A resend is a message like the first: the Resend button cannot go on texting past the window
    (each flow's 30 s between codes aside, a client holds as many flows as it likes)."""
    numbers = [_phone() for _ in range(SENDS)]
    flows = []
    for number in numbers:
        flow = stack.native.get("/self-service/registration/api", client).json()
        body = {"method": "code", "traits": {"phone": number}}
        _sent(stack.native.post(f"/self-service/registration?flow={flow['id']}", body, client))
        flows.append(flow["id"])
    resend = {"method": "code", "resend": "code", "traits": {"phone": numbers[0]}}
    again = stack.native.post(f"/self-service/registration?flow={flows[0]}", resend, client)
    _refused(again, state="sent_email")  # already on its code screen
    # The window's refusal, not the flow's 30 s between codes (which would say 30 at most).
    assert int(again.headers["Retry-After"]) > 60, again.headers
    _nothing_texted(stack, numbers[:1], already=1)


def test_the_refusal_is_the_same_for_a_number_with_an_account_and_one_without(
    stack: CodeStack, client: dict[str, str]
) -> None:
    """Every send counts alike, whether a code goes out (an account's number), a notice (a number
    without one) or nothing (a username without one: no way to reach it, as an unknown address with
    `notify_unknown_recipients` off); past the window both get the same answer and nothing is sent."""
    known, unknown = _known_phone(stack), _phone()
    for identifier in [known, _phone(), f"nobody-{uuid.uuid4().hex[:10]}"]:
        _sent(_login_code(stack, identifier, client))
    stack.sms.wait_for(known)
    refusals = [_refused(_login_code(stack, number, client)) for number in (known, unknown)]
    assert _comparable(refusals[0]) == _comparable(refusals[1])
    _nothing_texted(stack, [unknown])
    assert len(stack.sms.to(known)) == 1, "the refused request sent the account's number nothing"


def _comparable(flow: dict[str, Any]) -> dict[str, Any]:
    """The flow without what differs between any two flows (its id, its times) and the seconds to
    wait (two refusals a moment apart may round them a second apart)."""
    shown = json.loads(json.dumps(flow).replace(flow["id"], "<id>"))
    for key in ("issued_at", "expires_at", "created_at", "updated_at"):
        shown.pop(key, None)
    for message in shown["ui"]["messages"]:
        assert message["context"]["retry_after"] > 60, message
        message["text"] = message["context"]["retry_after"] = "<seconds>"
    return dict(shown)


def test_a_client_under_the_window_and_other_clients_are_served(stack: CodeStack, client: dict[str, str]) -> None:
    """The window is per client: one past it does not stop another, whose code arrives and works."""
    for _ in range(SENDS):
        _sent(_login_code(stack, _phone(), client))
    _refused(_login_code(stack, _phone(), client))
    other = {"X-Forwarded-For": f"198.51.100.{next(_clients)}"}
    phone = _known_phone(stack)
    flow = stack.native.get("/self-service/login/api", other).json()
    _sent(stack.native.post(f"/self-service/login?flow={flow['id']}", {"method": "code", "identifier": phone}, other))
    body = {"method": "code", "identifier": phone, "code": stack.texted_code(phone)}
    signed_in = stack.native.post(f"/self-service/login?flow={flow['id']}", body, other)
    assert signed_in.status == 200, signed_in


def test_a_browser_past_the_window_is_sent_back_to_the_form_with_the_message(
    stack: CodeStack, client: dict[str, str]
) -> None:
    for _ in range(SENDS):
        _sent(_sign_up_code(stack, _phone(), client))
    browser = Browser(stack.public_url)
    started = browser.get("/self-service/registration/browser", headers=client)
    flow_id = query_param(started.headers["Location"], "flow")
    flow = browser.get(f"/self-service/registration/flows?id={flow_id}", headers=client, as_json=True).json()
    csrf = next(n["attributes"]["value"] for n in flow["ui"]["nodes"] if n["attributes"].get("name") == "csrf_token")
    number = _phone()
    body = {"csrf_token": csrf, "method": "code", "traits.phone": number}
    posted = browser.post(f"/self-service/registration?flow={flow_id}", body, headers=client)
    assert posted.status == 303 and query_param(posted.headers["Location"], "flow") == flow_id, posted
    shown = browser.get(f"/self-service/registration/flows?id={flow_id}", headers=client, as_json=True).json()
    assert shown["state"] == "choose_method" and _message_ids(shown) == [4290001], shown
    _nothing_texted(stack, [number])


def test_second_factor_codes_count_on_the_window(mfa: CodeStack, smtp: SmtpServer, client: dict[str, str]) -> None:
    """A code as a second factor goes only to the account's own verified addresses, but each is a
    message the client caused all the same."""
    email = _signed_up_by_password(mfa)
    signed_in = {**client, "X-Session-Token": _password_login(mfa, email, client)}
    for _ in range(SENDS):
        _sent(_second_factor_code(mfa, email, signed_in))
    _refused(_second_factor_code(mfa, email, signed_in))
    # Another client's, sent after: once it has come, a mail for the refused request would have too.
    marker, other = _signed_up_by_password(mfa), {"X-Forwarded-For": f"198.51.100.{next(_clients)}"}
    _sent(_second_factor_code(mfa, marker, {**other, "X-Session-Token": _password_login(mfa, marker, other)}))
    wait_for_mail(smtp, marker)
    assert len(smtp.to(email)) == SENDS


def _signed_up_by_password(stack: CodeStack) -> str:
    """An account with a password and a verified email address (for codes as a second factor)."""
    email = f"mfa-{uuid.uuid4().hex[:10]}@example.com"
    body = {
        "schema_id": "default",
        "traits": {"email": email},
        "credentials": {"password": {"config": {"password": PASSWORD}}},
        "verifiable_addresses": [{"value": email, "via": "email", "verified": True, "status": "completed"}],
    }
    created = urllib3.request("POST", f"{stack.warden.admin_url}/admin/identities", json=body)
    assert created.status == 201, created.data
    return email


def _password_login(stack: CodeStack, email: str, client: dict[str, str]) -> str:
    flow = stack.native.get("/self-service/login/api", client).json()
    body = {"method": "password", "identifier": email, "password": PASSWORD}
    done = stack.native.post(f"/self-service/login?flow={flow['id']}", body, client)
    assert done.status == 200, done
    return str(done.json()["session_token"])


def _second_factor_code(stack: CodeStack, email: str, signed_in: dict[str, str]) -> Response:
    step_up = stack.native.get("/self-service/login/api?aal=aal2", signed_in).json()
    return stack.native.post(f"/self-service/login?flow={step_up['id']}", {"address": email}, signed_in)
