"""Passwordless journeys, end to end: a whole Warden with `selfservice.methods.code.passwordless_enabled`
sends real mail (aiosmtpd) and SMS (the courier's HTTP channel, to a sink on loopback), and the tests
read the codes out of them as a user would, through browser, SPA and native (API) flows, on SQLite
and PostgreSQL where storage matters (redemption under concurrency, attempt counting).

Reference: Kratos's code strategy (KRATOS_NOTES §2.3, §2.7, §3; `selfservice/strategy/code/`),
and where Warden differs on purpose: an unknown identifier gets the known one's answer (DESIGN §9)
and a new code waits 30 s per flow."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import urllib3

from tests.code_helpers import CodeStack, SmsSink, code_warden
from tests.selfservice_helpers import PASSWORD, RETURN_URL, Response, create_identity, database, query_param
from tests.smtp import SmtpServer

COOKIE = "ory_kratos_session"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer, sms: SmsSink
) -> Iterator[CodeStack]:
    directory = tmp_path_factory.mktemp(f"code-{request.param}")
    with database(request.param, directory) as dsn, code_warden(directory, dsn, smtp, sms) as running:
        yield running


@pytest.fixture(scope="module")
def phone_stack(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer, sms: SmsSink) -> Iterator[CodeStack]:
    directory = tmp_path_factory.mktemp("code-phone")
    with (
        database("sqlite", directory) as dsn,
        code_warden(directory, dsn, smtp, sms, phone=True, code_config={"notify_unknown_recipients": True}) as running,
    ):
        yield running


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _phone() -> str:
    return f"+4915{uuid.uuid4().int % 10**9:09d}"


def _names(flow: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(n["group"], n["attributes"].get("name"), n["attributes"].get("type")) for n in flow["ui"]["nodes"]]


def _message_ids(flow: dict[str, Any]) -> list[int]:
    return [m["id"] for m in flow["ui"].get("messages") or []]


def _native_flow(stack: CodeStack, kind: str) -> dict[str, Any]:
    response = stack.native.get(f"/self-service/{kind}/api")
    assert response.status == 200, response
    return dict(response.json())


def _submit(stack: CodeStack, kind: str, flow_id: str, body: dict[str, Any]) -> Response:
    return stack.native.post(f"/self-service/{kind}?flow={flow_id}", body)


# --- registration by code ----------------------------------------------------------------------


def test_a_native_app_registers_by_code_and_is_signed_in_with_the_address_verified(stack: CodeStack) -> None:
    email = _email("signup")
    flow = _native_flow(stack, "registration")
    assert ("code", "method", "submit") in _names(flow)
    sent = _submit(stack, "registration", flow["id"], {"method": "code", "traits": {"email": email}})
    assert sent.status == 400, sent  # Kratos answers the code screen with 400 and the flow
    sent_flow = sent.json()
    assert sent_flow["state"] == "sent_email" and _message_ids(sent_flow) == [1040005]
    assert ("code", "code", "text") in _names(sent_flow) and ("code", "resend", "submit") in _names(sent_flow)
    code = stack.mailed_code(email)
    done = _submit(stack, "registration", flow["id"], {"method": "code", "code": code, "traits": {"email": email}})
    assert done.status == 200, done
    body = done.json()
    assert body["session_token"].startswith("ory_st_")
    assert body["session"]["authentication_methods"][0]["method"] == "code"
    [address] = body["identity"]["verifiable_addresses"]
    assert address["value"] == email and address["verified"] is True and address["status"] == "completed"
    whoami = stack.native.get("/sessions/whoami", {"X-Session-Token": body["session_token"]})
    assert whoami.status == 200 and whoami.json()["identity"]["traits"]["email"] == email


def test_a_browser_registers_by_code_through_forms(stack: CodeStack) -> None:
    email = _email("browser-signup")
    browser = stack.browser()
    started = browser.get("/self-service/registration/browser")
    flow_id = query_param(started.location, "flow")
    flow = browser.get(f"/self-service/registration/flows?id={flow_id}", as_json=True).json()
    csrf = next(n["attributes"]["value"] for n in flow["ui"]["nodes"] if n["attributes"]["name"] == "csrf_token")
    form = {"csrf_token": csrf, "method": "code", "traits.email": email}
    sent = browser.post(flow["ui"]["action"], form)
    assert sent.status == 303 and query_param(sent.location, "flow") == flow_id
    code = stack.mailed_code(email)
    done = browser.post(flow["ui"]["action"], {**form, "code": code})
    assert done.status == 303 and done.location == RETURN_URL, done
    assert COOKIE in browser.cookies


def test_changed_traits_and_a_wrong_code_are_refused_with_kratos_messages(stack: CodeStack) -> None:
    email = _email("changed")
    flow = _native_flow(stack, "registration")
    _submit(stack, "registration", flow["id"], {"method": "code", "traits": {"email": email}})
    code = stack.mailed_code(email)
    changed = _submit(
        stack, "registration", flow["id"], {"method": "code", "code": code, "traits": {"email": _email("other")}}
    )
    assert changed.status == 400 and _message_ids(changed.json()) == [4000036]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    refused = _submit(stack, "registration", flow["id"], {"method": "code", "code": wrong, "traits": {"email": email}})
    assert refused.status == 400 and _message_ids(refused.json()) == [4040003]
    missing = _submit(stack, "registration", flow["id"], {"method": "code", "traits": {"email": email}})
    assert missing.status == 400
    assert [m["id"] for m in _node(missing.json(), "code")["messages"]] == [4000002]
    done = _submit(stack, "registration", flow["id"], {"method": "code", "code": code, "traits": {"email": email}})
    assert done.status == 200, done


def _node(flow: dict[str, Any], name: str) -> dict[str, Any]:
    return next(n for n in flow["ui"]["nodes"] if n["attributes"].get("name") == name)


# --- login by code -----------------------------------------------------------------------------


def _ask_login_code(stack: CodeStack, identifier: str) -> tuple[dict[str, Any], Response]:
    flow = _native_flow(stack, "login")
    return flow, _submit(stack, "login", flow["id"], {"method": "code", "identifier": identifier})


def test_a_native_app_logs_in_by_code(stack: CodeStack) -> None:
    email = _email("login")
    create_identity(stack.warden.admin_url, email)
    flow, sent = _ask_login_code(stack, email.upper())  # typed with caps lock: the same account
    assert sent.status == 400 and sent.json()["state"] == "sent_email" and _message_ids(sent.json()) == [1010014]
    assert _node(sent.json(), "identifier")["attributes"] == {
        "name": "identifier",
        "type": "hidden",
        "value": email,
        "required": True,
        "disabled": False,
        "node_type": "input",
    }
    code = stack.mailed_code(email)
    done = _submit(stack, "login", flow["id"], {"method": "code", "code": code, "identifier": email})
    assert done.status == 200, done
    session = done.json()["session"]
    assert session["authentication_methods"][0]["method"] == "code" and session["identity"]["traits"]["email"] == email
    assert session["identity"]["verifiable_addresses"][0]["verified"] is True
    again = _submit(stack, "login", flow["id"], {"method": "code", "code": code})
    assert again.status == 400 and _message_ids(again.json()) == [4010007], "a used flow signs no one in twice"


def test_a_code_whose_address_moved_to_another_account_signs_in_no_one(stack: CodeStack) -> None:
    """The code went to A's address; before it was used, the address moved to B. Proving the address
    must not make the login B's (that would enter B without any of B's credentials), nor A's: the
    address is no longer A's, and whoever reads that mailbox now is not A's owner (Warden's
    hardening; Kratos signs A in)."""
    moved, kept = _email("moved"), _email("kept")
    first = create_identity(stack.warden.admin_url, moved)
    flow, sent = _ask_login_code(stack, moved)
    assert sent.status == 400 and sent.json()["state"] == "sent_email"
    code = stack.mailed_code(moved)
    admin = stack.warden.admin_url
    changed = urllib3.request(
        "PUT",
        f"{admin}/admin/identities/{first}",
        json={"schema_id": "default", "traits": {"email": kept}, "state": "active"},
    )
    assert changed.status == 200, changed.data
    second = create_identity(admin, moved)

    done = _submit(stack, "login", flow["id"], {"method": "code", "code": code, "identifier": moved})
    assert done.status == 400 and "session" not in done.json(), done
    assert _message_ids(done.json()) == [4010008], done
    other = urllib3.request("GET", f"{admin}/admin/identities/{second}").json()
    assert other["verifiable_addresses"][0]["verified"] is False, "another account's address was marked verified"


def test_a_browser_logs_in_by_code(stack: CodeStack) -> None:
    email = _email("browser-login")
    create_identity(stack.warden.admin_url, email)
    browser = stack.browser()
    flow_id = query_param(browser.get("/self-service/login/browser").location, "flow")
    flow = browser.get(f"/self-service/login/flows?id={flow_id}", as_json=True).json()
    csrf = _node(flow, "csrf_token")["attributes"]["value"]
    sent = browser.post(flow["ui"]["action"], {"csrf_token": csrf, "method": "code", "identifier": email})
    assert sent.status == 303 and query_param(sent.location, "flow") == flow_id
    code = stack.mailed_code(email)
    # The code screen's hidden `identifier`, as the form posts it (Kratos's loginVerifyCode needs it).
    body = {"csrf_token": csrf, "method": "code", "code": code, "identifier": email}
    done = browser.post(flow["ui"]["action"], body)
    assert done.status == 303 and done.location == RETURN_URL, done
    assert COOKIE in browser.cookies


def test_a_single_page_app_logs_in_by_code(stack: CodeStack) -> None:
    email = _email("spa-login")
    create_identity(stack.warden.admin_url, email)
    spa = stack.browser(json=True)
    flow = spa.get("/self-service/login/browser").json()
    csrf = _node(flow, "csrf_token")["attributes"]["value"]
    sent = spa.post(flow["ui"]["action"], {"csrf_token": csrf, "method": "code", "identifier": email})
    assert sent.status == 400 and sent.json()["state"] == "sent_email"
    code = stack.mailed_code(email)
    done = spa.post(flow["ui"]["action"], {"csrf_token": csrf, "method": "code", "code": code, "identifier": email})
    assert done.status == 200, done
    assert done.json()["continue_with"] == [{"action": "redirect_browser_to", "redirect_browser_to": RETURN_URL}]
    assert "session_token" not in done.json() and COOKIE in spa.cookies


def test_a_code_has_five_tries_per_flow_and_a_resend_does_not_add_any(stack: CodeStack) -> None:
    email = _email("tries")
    create_identity(stack.warden.admin_url, email)
    flow, _ = _ask_login_code(stack, email)
    code = stack.mailed_code(email)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        refused = _submit(stack, "login", flow["id"], {"method": "code", "code": wrong, "identifier": email})
        assert refused.status == 400 and _message_ids(refused.json()) == [4010008]
    locked = _submit(stack, "login", flow["id"], {"method": "code", "code": code, "identifier": email})
    # Kratos's ErrCodeSubmittedTooOften: "The request was submitted too often. Please request another code."
    assert locked.status == 400 and _message_ids(locked.json()) == [4000001], "the right code is refused now"
    # Six failures on the account: past the throttle's free ones, it refuses the next guess outright.
    throttled = _submit(stack, "login", flow["id"], {"method": "code", "code": "12ab!", "identifier": email})
    assert throttled.status == 429 and 4290001 in _message_ids(throttled.json())


def test_resend_is_throttled_per_flow_with_retry_after(stack: CodeStack) -> None:
    email = _email("resend")
    create_identity(stack.warden.admin_url, email)
    flow, _ = _ask_login_code(stack, email)
    resent = _submit(stack, "login", flow["id"], {"method": "code", "resend": "code", "identifier": email})
    assert resent.status == 429, resent
    assert 0 < int(resent.headers["Retry-After"]) <= 30
    assert 4290001 in _message_ids(resent.json()), "the flow says when to retry"
    code = stack.mailed_code(email)
    done = _submit(stack, "login", flow["id"], {"method": "code", "code": code, "identifier": email})
    assert done.status == 200, "a refused resend leaves the sent code working"
    assert len(stack.smtp.to(email)) == 1


def test_two_concurrent_right_codes_make_exactly_one_session(stack: CodeStack) -> None:
    email = _email("race")
    create_identity(stack.warden.admin_url, email)
    flow, _ = _ask_login_code(stack, email)
    code = stack.mailed_code(email)
    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(
                lambda _: _submit(stack, "login", flow["id"], {"method": "code", "code": code, "identifier": email}),
                range(4),
            )
        )
    assert sorted(a.status for a in answers) == [200, 400, 400, 400]
    identity_id = next(a.json()["session"]["identity"]["id"] for a in answers if a.status == 200)
    listed = urllib3.request("GET", f"{stack.warden.admin_url}/admin/identities/{identity_id}/sessions")
    assert listed.status == 200 and len(listed.json()) == 1


# --- enumeration -------------------------------------------------------------------------------

_VOLATILE = re.compile(
    rb'"(id|csrf_token|expires_at|issued_at|created_at|updated_at|request_url|action|value)": ?"[^"]*"'
)


def _scrubbed(response: Response, *identifiers: str) -> bytes:
    data = response.data
    for identifier in identifiers:
        data = data.replace(identifier.encode(), b"<identifier>")
    return _VOLATILE.sub(rb'"\1": "<volatile>"', data)


def test_an_unknown_identifier_gets_the_known_ones_answer_byte_for_byte_and_no_code(stack: CodeStack) -> None:
    known, unknown = _email("known"), _email("nobody")
    create_identity(stack.warden.admin_url, known)
    _, for_known = _ask_login_code(stack, known)
    _, for_unknown = _ask_login_code(stack, unknown)
    assert (for_known.status, for_unknown.status) == (400, 400)
    assert _scrubbed(for_known, known) == _scrubbed(for_unknown, unknown)
    assert for_known.headers["Content-Type"] == for_unknown.headers["Content-Type"]
    stack.mailed_code(known)
    assert stack.smtp.to(unknown) == []


# --- SMS ---------------------------------------------------------------------------------------


def test_sign_up_and_in_by_sms(phone_stack: CodeStack) -> None:
    phone = _phone()
    flow = _native_flow(phone_stack, "registration")
    sent = _submit(phone_stack, "registration", flow["id"], {"method": "code", "traits": {"phone": phone}})
    assert sent.status == 400 and sent.json()["state"] == "sent_email"
    [message] = phone_stack.sms.wait_for(phone)
    assert message["template_type"] == "registration_code_valid"
    assert message["body"].startswith("Your registration code is: ")
    code = phone_stack.texted_code(phone)
    done = _submit(
        phone_stack, "registration", flow["id"], {"method": "code", "code": code, "traits": {"phone": phone}}
    )
    assert done.status == 200, done
    [address] = done.json()["identity"]["verifiable_addresses"]
    assert (address["via"], address["value"], address["verified"]) == ("sms", phone, True)

    spaced = f"{phone[:3]} {phone[3:6]} {phone[6:]}"  # typed with spaces: the same number
    login, asked = _ask_login_code(phone_stack, spaced)
    assert asked.status == 400
    message = phone_stack.sms.wait_for(phone, 2)[1]
    assert message["template_type"] == "login_code_valid" and message["body"].startswith("Your login code is: ")
    signed_in = _submit(
        phone_stack,
        "login",
        login["id"],
        {"method": "code", "code": phone_stack.texted_code(phone, 2), "identifier": spaced},
    )
    assert signed_in.status == 200, signed_in
    assert signed_in.json()["session"]["identity"]["traits"]["phone"] == phone


def test_an_unknown_number_is_told_when_notify_unknown_recipients_is_on(phone_stack: CodeStack) -> None:
    unknown = _phone()
    _, asked = _ask_login_code(phone_stack, unknown)
    assert asked.status == 400 and asked.json()["state"] == "sent_email" and _message_ids(asked.json()) == [1010014]
    [notice] = phone_stack.sms.wait_for(unknown)
    assert notice["template_type"] == "login_code_invalid"
    assert "no account" in notice["body"] and not re.search(r"[0-9]{6}", notice["body"])


# --- two-step forms: identifier_first login, profile_first registration ------------------------


@pytest.fixture(scope="module")
def two_step(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer, sms: SmsSink) -> Iterator[CodeStack]:
    directory = tmp_path_factory.mktemp("code-two-step")
    options = {"login_style": "identifier_first", "registration_style": "profile_first"}
    with database("sqlite", directory) as dsn, code_warden(directory, dsn, smtp, sms, **options) as running:
        yield running


def test_identifier_first_asks_for_the_identifier_then_offers_the_accounts_methods(two_step: CodeStack) -> None:
    email = _email("idfirst")
    create_identity(two_step.warden.admin_url, email)
    flow = _native_flow(two_step, "login")
    assert _names(flow) == [
        ("identifier_first", "identifier", "text"),
        ("identifier_first", "method", "submit"),
    ]
    assert _node(flow, "method")["attributes"]["value"] == "identifier_first"
    second = _submit(two_step, "login", flow["id"], {"method": "identifier_first", "identifier": email})
    assert second.status == 400, second
    assert _names(second.json()) == [
        ("identifier_first", "identifier", "hidden"),
        ("password", "password", "password"),
        ("password", "method", "submit"),
        ("code", "method", "submit"),
    ]
    assert _node(second.json(), "identifier")["attributes"]["value"] == email
    done = _submit(two_step, "login", flow["id"], {"method": "password", "identifier": email, "password": PASSWORD})
    assert done.status == 200, done
    assert done.json()["session"]["authentication_methods"][0]["method"] == "password"


def test_identifier_first_with_a_code_in_a_browser(two_step: CodeStack) -> None:
    email = _email("idfirst-code")
    create_identity(two_step.warden.admin_url, email)
    browser = two_step.browser()
    flow_id = query_param(browser.get("/self-service/login/browser").location, "flow")
    flow = browser.get(f"/self-service/login/flows?id={flow_id}", as_json=True).json()
    csrf = _node(flow, "csrf_token")["attributes"]["value"]
    chosen = browser.post(flow["ui"]["action"], {"csrf_token": csrf, "method": "identifier_first", "identifier": email})
    assert chosen.status == 303 and query_param(chosen.location, "flow") == flow_id
    sent = browser.post(flow["ui"]["action"], {"csrf_token": csrf, "method": "code", "identifier": email})
    assert sent.status == 303
    code = two_step.mailed_code(email)
    done = browser.post(flow["ui"]["action"], {"csrf_token": csrf, "method": "code", "code": code, "identifier": email})
    assert done.status == 303 and done.location == RETURN_URL, done
    assert COOKIE in browser.cookies


def test_identifier_first_does_not_tell_an_unknown_identifier_apart(two_step: CodeStack) -> None:
    known, unknown = _email("idfirst-known"), _email("idfirst-nobody")
    create_identity(two_step.warden.admin_url, known)
    answers = []
    for identifier in (known, unknown):
        flow = _native_flow(two_step, "login")
        answers.append(_submit(two_step, "login", flow["id"], {"method": "identifier_first", "identifier": identifier}))
    assert [a.status for a in answers] == [400, 400]
    assert _scrubbed(answers[0], known) == _scrubbed(answers[1], unknown)
    missing = _submit(two_step, "login", _native_flow(two_step, "login")["id"], {"method": "identifier_first"})
    assert missing.status == 400 and [m["id"] for m in _node(missing.json(), "identifier")["messages"]] == [4000002]


def test_profile_first_takes_the_traits_then_the_password(two_step: CodeStack) -> None:
    email = _email("profile-first")
    flow = _native_flow(two_step, "registration")
    assert _names(flow) == [
        ("default", "traits.email", "email"),
        ("default", "traits.name.first", "text"),
        ("default", "traits.name.last", "text"),
        ("profile", "method", "submit"),
    ]
    invalid = _submit(two_step, "registration", flow["id"], {"method": "profile", "traits": {"email": "nope"}})
    assert invalid.status == 400 and _node(invalid.json(), "traits.email")["messages"]
    assert ("profile", "method", "submit") in _names(invalid.json()), "still the profile screen"
    chosen = _submit(two_step, "registration", flow["id"], {"method": "profile", "traits": {"email": email}})
    assert chosen.status == 400, chosen
    screen = chosen.json()
    assert _message_ids(screen) == [1040009]
    assert _names(screen) == [
        ("default", "traits.email", "hidden"),
        ("default", "traits.name.first", "hidden"),
        ("default", "traits.name.last", "hidden"),
        ("password", "password", "password"),
        ("password", "method", "submit"),
        ("code", "method", "submit"),
        ("profile", "screen", "submit"),
    ]
    assert _node(screen, "screen")["attributes"]["value"] == "previous"
    back = _submit(two_step, "registration", flow["id"], {"method": "profile", "screen": "previous"})
    assert back.status == 400 and _node(back.json(), "traits.email")["attributes"]["value"] == email
    assert ("profile", "method", "submit") in _names(back.json())
    _submit(two_step, "registration", flow["id"], {"method": "profile", "traits": {"email": email}})
    done = _submit(
        two_step, "registration", flow["id"], {"method": "password", "traits": {"email": email}, "password": PASSWORD}
    )
    assert done.status == 200, done
    assert done.json()["identity"]["traits"]["email"] == email and done.json()["session_token"]


def test_profile_first_with_a_code_and_back_to_the_credential_screen(two_step: CodeStack) -> None:
    email = _email("profile-code")
    flow = _native_flow(two_step, "registration")
    _submit(two_step, "registration", flow["id"], {"method": "profile", "traits": {"email": email}})
    sent = _submit(two_step, "registration", flow["id"], {"method": "code", "traits": {"email": email}})
    assert sent.status == 400 and sent.json()["state"] == "sent_email"
    assert _node(sent.json(), "screen")["attributes"]["value"] == "credential-selection"
    back = _submit(two_step, "registration", flow["id"], {"screen": "credential-selection", "method": "code"})
    assert back.status == 400 and back.json()["state"] == "choose_method" and _message_ids(back.json()) == [1040009]
    two_step.mailed_code(email)  # the first code went out
    again = _submit(two_step, "registration", flow["id"], {"method": "code", "traits": {"email": email}})
    assert again.status == 429, "a second code for the flow waits its 30 s"


@pytest.mark.parametrize(
    "body",
    [
        {"method": "code", "identifier": ["a@example.com"]},
        {"method": "code", "identifier": {"x": 1}},
        {"method": "code", "identifier": "   "},
        {"method": "code", "resend": 7},
        {"method": "code", "code": 123456},
        {"method": "identifier_first", "identifier": None},
    ],
)
def test_odd_login_bodies_are_400s(stack: CodeStack, body: dict[str, Any]) -> None:
    flow = _native_flow(stack, "login")
    answer = _submit(stack, "login", flow["id"], body)
    assert answer.status == 400, answer


@pytest.mark.parametrize(
    "body",
    [
        {"method": "code", "traits": "a@example.com"},
        {"method": "code", "traits": {"email": ["x"]}},
        {"method": "code", "traits": {}},
        {"method": "code", "code": {"a": 1}, "traits": {"email": "x@example.com"}},
    ],
)
def test_odd_registration_bodies_are_400s(stack: CodeStack, body: dict[str, Any]) -> None:
    flow = _native_flow(stack, "registration")
    answer = _submit(stack, "registration", flow["id"], body)
    assert answer.status == 400, answer
    assert answer.json().get("ui") or answer.json().get("error"), answer
