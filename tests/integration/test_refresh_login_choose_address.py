"""A code refresh login by a chosen address (`feature_flags.refresh_login_choose_address`, Kratos's
address picker, ory/kratos#4194): a refresh flow of a signed-in identity offers a "Send code to …"
button per address of that identity instead of an identifier field, and the code goes, by mail (the
real SMTP server) or SMS (the courier's HTTP channel to a sink on loopback), to the one pressed only.
Any other address is refused (4000035) and gets nothing; the refreshed session keeps its id and
gains a fresher `authenticated_at` and one more `code` method. With the flag off nothing changes;
at aal2 the second-factor buttons are the form, flag or not."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import urllib3

from tests.code_helpers import CodeStack, Native, SmsSink, code_warden, sms_code
from tests.mail_helpers import code_in, wait_for_mail
from tests.selfservice_helpers import PASSWORD, RETURN_URL, Browser, database, query_param
from tests.smtp import SmtpServer

FLAG = {"feature_flags": {"refresh_login_choose_address": True}}
# An email address to sign in with (password, code by mail) and a phone number (code by SMS).
SCHEMA: dict[str, Any] = {
    "$id": "https://warden.test/schemas/refresh-addresses.json",
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "traits": {
            "type": "object",
            "properties": {
                "email": {
                    "type": "string",
                    "format": "email",
                    "title": "E-Mail",
                    "ory.sh/kratos": {
                        "credentials": {"password": {"identifier": True}, "code": {"identifier": True, "via": "email"}},
                        "verification": {"via": "email"},
                    },
                },
                "phone": {
                    "type": "string",
                    "format": "tel",
                    "ory.sh/kratos": {"credentials": {"code": {"identifier": True, "via": "sms"}}},
                },
            },
            "required": ["email"],
            "additionalProperties": False,
        }
    },
}
# No address for the code method: with `missing_credential_fallback_enabled` the email still gets codes.
PASSWORD_ONLY: dict[str, Any] = copy.deepcopy(SCHEMA)
PASSWORD_ONLY["properties"]["traits"]["properties"] = {
    "email": {
        "type": "string",
        "format": "email",
        "ory.sh/kratos": {"credentials": {"password": {"identifier": True}}, "verification": {"via": "email"}},
    }
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer, sms: SmsSink) -> Iterator[CodeStack]:
    """Passwordless code with the flag on, on PostgreSQL."""
    directory = tmp_path_factory.mktemp("refresh-choose")
    with database("postgres", directory) as dsn, code_warden(directory, dsn, smtp, sms, schema=SCHEMA, top=FLAG) as s:
        yield s


@pytest.fixture(scope="module")
def flag_off(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer, sms: SmsSink) -> Iterator[CodeStack]:
    directory = tmp_path_factory.mktemp("refresh-typed")
    with database("sqlite", directory) as dsn, code_warden(directory, dsn, smtp, sms, schema=SCHEMA) as s:
        yield s


@pytest.fixture(scope="module")
def fallback(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer, sms: SmsSink) -> Iterator[CodeStack]:
    """The flag on with the missing-credential fallback, for accounts whose schema gives the code
    method no address."""
    directory = tmp_path_factory.mktemp("refresh-fallback")
    code = {"missing_credential_fallback_enabled": True}
    with (
        database("sqlite", directory) as dsn,
        code_warden(directory, dsn, smtp, sms, schema=PASSWORD_ONLY, code_config=code, top=FLAG) as s,
    ):
        yield s


@pytest.fixture(scope="module")
def mfa(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer, sms: SmsSink) -> Iterator[CodeStack]:
    """The flag on with the code as a second factor (and not passwordless)."""
    directory = tmp_path_factory.mktemp("refresh-mfa")
    with (
        database("sqlite", directory) as dsn,
        code_warden(directory, dsn, smtp, sms, schema=PASSWORD_ONLY, mfa=True, top=FLAG) as s,
    ):
        yield s


def _person(stack: CodeStack, *, phone: bool = True, verified: bool = False) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:10]
    traits: dict[str, Any] = {"email": f"refresh-{tag}@example.com"}
    if phone:
        traits["phone"] = f"+4915{uuid.uuid4().int % 10**9:09d}"
    body: dict[str, Any] = {
        "schema_id": "custom",
        "traits": traits,
        "credentials": {"password": {"config": {"password": PASSWORD}}},
    }
    if verified:
        body["verifiable_addresses"] = [
            {"value": traits["email"], "via": "email", "verified": True, "status": "completed"}
        ]
    created = urllib3.request("POST", f"{stack.warden.admin_url}/admin/identities", json=body)
    assert created.status == 201, created.data
    return {**traits, "id": created.json()["id"]}


def _token(stack: CodeStack, person: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A session token by password through an API flow, and its session."""
    native = stack.native
    flow = native.get("/self-service/login/api").json()
    body = {"method": "password", "identifier": person["email"], "password": PASSWORD}
    done = native.post(f"/self-service/login?flow={flow['id']}", body)
    assert done.status == 200, done
    return done.json()["session_token"], done.json()["session"]


def _refresh_flow(stack: CodeStack, token: str, query: str = "refresh=true") -> dict[str, Any]:
    started = stack.native.get(f"/self-service/login/api?{query}", {"X-Session-Token": token})
    assert started.status == 200, started
    return dict(started.json())


def _post(native: Native, flow: dict[str, Any], body: dict[str, Any], token: str) -> tuple[int, dict[str, Any]]:
    answer = native.post(f"/self-service/login?flow={flow['id']}", body, {"X-Session-Token": token})
    return answer.status, answer.json()


def _nodes(flow: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [n for n in flow["ui"]["nodes"] if n["attributes"].get("name") == name]


def _message_ids(flow: dict[str, Any]) -> list[int]:
    return [m["id"] for m in flow["ui"].get("messages") or []]


def _when(session: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(session["authenticated_at"].replace("Z", "+00:00"))


def _whoami(stack: CodeStack, token: str) -> dict[str, Any]:
    answer = stack.native.get("/sessions/whoami", {"X-Session-Token": token})
    assert answer.status == 200, answer
    return dict(answer.json())


# --- the flag on ---------------------------------------------------------------------------------


def test_api_refresh_offers_the_sessions_addresses_and_texts_the_chosen_phone_only(
    stack: CodeStack, smtp: SmtpServer, sms: SmsSink
) -> None:
    person = _person(stack)
    token, session = _token(stack, person)
    flow = _refresh_flow(stack, token)
    assert flow["refresh"] is True and _message_ids(flow) == [1010003]
    # The session says who signs in: no identifier to type (the password form's is hidden, filled).
    assert [n["attributes"]["type"] for n in _nodes(flow, "identifier")] == ["hidden"]
    buttons = [
        (n["group"], n["attributes"]["type"], n["attributes"]["value"], n["meta"]["label"]["id"])
        for n in _nodes(flow, "address")
    ]
    assert sorted(buttons) == sorted(
        [("code", "submit", person["email"], 1010023), ("code", "submit", person["phone"], 1010023)]
    )
    [phone_button] = [n for n in _nodes(flow, "address") if n["attributes"]["value"] == person["phone"]]
    assert phone_button["meta"]["label"]["context"] == {"address": person["phone"], "channel": "sms"}
    assert [n["attributes"]["value"] for n in _nodes(flow, "method")] == ["password"], "no Send sign in code"

    status, sent = _post(stack.native, flow, {"method": "code", "address": person["phone"]}, token)
    assert status == 400 and sent["state"] == "sent_email" and _message_ids(sent) == [1010014], sent
    [kept] = _nodes(sent, "address")
    assert kept["attributes"]["type"] == "hidden" and kept["attributes"]["value"] == person["phone"]
    [texted] = sms.wait_for(person["phone"])
    assert texted["template_type"] == "login_code_valid"

    body = {"method": "code", "code": sms_code(texted), "address": person["phone"]}
    status, done = _post(stack.native, flow, body, token)
    assert status == 200, done
    refreshed = done["session"]
    assert refreshed["id"] == session["id"] and done["session_token"] == token, "the same session, refreshed"
    assert _when(refreshed) > _when(session)
    assert [m["method"] for m in refreshed["authentication_methods"]] == ["password", "code"]
    assert _whoami(stack, token)["authenticated_at"] == refreshed["authenticated_at"]
    assert smtp.to(person["email"]) == [], "nothing went to the address not chosen"


def test_browser_refresh_by_the_email_button_through_forms(stack: CodeStack, sms: SmsSink) -> None:
    person = _person(stack)
    browser = Browser(stack.public_url)
    login = browser.get("/self-service/login/browser")
    flow_id = query_param(login.location, "flow")
    flow = browser.get(f"/self-service/login/flows?id={flow_id}", as_json=True).json()
    csrf = _nodes(flow, "csrf_token")[0]["attributes"]["value"]
    form = {"csrf_token": csrf, "method": "password", "identifier": person["email"], "password": PASSWORD}
    assert browser.post(flow["ui"]["action"], form).status == 303
    before = browser.get("/sessions/whoami", as_json=True).json()

    started = browser.get("/self-service/login/browser?refresh=true")
    assert started.status == 303, started
    flow_id = query_param(started.location, "flow")
    flow = browser.get(f"/self-service/login/flows?id={flow_id}", as_json=True).json()
    csrf = _nodes(flow, "csrf_token")[0]["attributes"]["value"]
    # The button as a browser posts the form: its name and value, the other fields; no method.
    [identifier] = _nodes(flow, "identifier")
    form = {"csrf_token": csrf, "identifier": identifier["attributes"]["value"], "password": ""}
    pressed = browser.post(flow["ui"]["action"], {**form, "address": person["email"]})
    assert pressed.status == 303 and query_param(pressed.location, "flow") == flow_id, pressed
    on_screen = browser.get(f"/self-service/login/flows?id={flow_id}", as_json=True).json()
    assert on_screen["state"] == "sent_email" and _message_ids(on_screen) == [1010014]
    code = code_in(wait_for_mail(stack.smtp, person["email"])[-1])

    form = {"csrf_token": csrf, "method": "code", "code": code, "address": person["email"]}
    done = browser.post(flow["ui"]["action"], form)
    assert done.status == 303 and done.location == RETURN_URL, done
    after = browser.get("/sessions/whoami", as_json=True).json()
    assert after["id"] == before["id"] and _when(after) > _when(before)
    assert [m["method"] for m in after["authentication_methods"]] == ["password", "code"]
    assert sms.to(person["phone"]) == [], "nothing went to the phone not chosen"


@pytest.mark.parametrize("whose", ["another account's", "no account's", "the identity's, with a typo"])
def test_an_address_that_is_not_the_identitys_is_refused_and_gets_nothing(
    stack: CodeStack, smtp: SmtpServer, sms: SmsSink, whose: str
) -> None:
    person, other = _person(stack), _person(stack)
    token, session = _token(stack, person)
    value = {
        "another account's": other["email"],
        "no account's": f"nobody-{uuid.uuid4().hex[:8]}@example.com",
        "the identity's, with a typo": person["email"].replace("@", "x@"),
    }[whose]
    flow = _refresh_flow(stack, token)
    for body in ({"address": value}, {"method": "code", "address": value}, {"method": "code", "identifier": value}):
        status, refused = _post(stack.native, flow, body, token)
        assert status == 400 and refused["state"] == "choose_method", refused
        assert _message_ids(refused) == [4000035] and not _nodes(refused, "code")
    # The identity's own address still works in that flow, and only it got a code.
    status, sent = _post(stack.native, flow, {"address": person["email"].upper()}, token)
    assert status == 400 and sent["state"] == "sent_email", sent
    wait_for_mail(smtp, person["email"])
    assert smtp.to(value) == [] and smtp.to(other["email"]) == [] and sms.to(other["phone"]) == []
    assert _whoami(stack, token)["authenticated_at"] == session["authenticated_at"], "the session is untouched"


def test_throttles_still_apply_a_new_code_waits_and_wrong_codes_run_out(stack: CodeStack, smtp: SmtpServer) -> None:
    person = _person(stack, phone=False)
    token, _ = _token(stack, person)
    flow = _refresh_flow(stack, token)
    status, _ = _post(stack.native, flow, {"address": person["email"]}, token)
    assert status == 400
    again = stack.native.post(
        f"/self-service/login?flow={flow['id']}",
        {"method": "code", "resend": "code", "address": person["email"]},
        {"X-Session-Token": token},
    )
    assert again.status == 429 and int(again.headers["Retry-After"]) > 0, again
    code = code_in(wait_for_mail(smtp, person["email"])[-1])
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        status, refused = _post(
            stack.native, flow, {"method": "code", "code": wrong, "address": person["email"]}, token
        )
        assert status == 400 and _message_ids(refused) == [4010008], refused
    status, spent = _post(stack.native, flow, {"method": "code", "code": code, "address": person["email"]}, token)
    assert status == 400 and _message_ids(spent) == [4000001], "past five tries even the right code is refused"


def test_an_address_dropped_after_the_screen_was_made_gets_nothing(stack: CodeStack, sms: SmsSink) -> None:
    person = _person(stack)
    token, _ = _token(stack, person)
    flow = _refresh_flow(stack, token)
    assert person["phone"] in [n["attributes"]["value"] for n in _nodes(flow, "address")]
    changed = urllib3.request(
        "PUT",
        f"{stack.warden.admin_url}/admin/identities/{person['id']}",
        json={"schema_id": "custom", "traits": {"email": person["email"]}, "state": "active"},
    )
    assert changed.status == 200, changed.data
    status, refused = _post(stack.native, flow, {"address": person["phone"]}, token)
    assert status == 400 and _message_ids(refused) == [4000035], refused
    assert sms.to(person["phone"]) == []


def test_a_login_flow_that_is_no_refresh_is_unchanged(stack: CodeStack) -> None:
    flow = stack.native.get("/self-service/login/api").json()
    assert [n["attributes"]["type"] for n in _nodes(flow, "identifier")] == ["text"]
    assert "code" in [n["attributes"]["value"] for n in _nodes(flow, "method")] and not _nodes(flow, "address")
    status, refused = _post(stack.native, flow, {"address": "someone@example.com"}, "")
    assert status == 400 and _message_ids(refused) == [4010002], "an address alone is only a refresh's button"


# --- the flag off: as before -------------------------------------------------------------------


def test_flag_off_the_refresh_asks_as_before(flag_off: CodeStack) -> None:
    person = _person(flag_off, phone=False)
    token, session = _token(flag_off, person)
    flow = _refresh_flow(flag_off, token)
    [identifier] = _nodes(flow, "identifier")
    assert identifier["attributes"]["type"] == "hidden" and identifier["attributes"]["value"] == person["email"]
    assert not _nodes(flow, "address") and "code" in [n["attributes"]["value"] for n in _nodes(flow, "method")]
    status, refused = _post(flag_off.native, flow, {"address": person["email"]}, token)
    assert status == 400 and _message_ids(refused) == [4010002] and "active" not in refused, refused
    status, sent = _post(flag_off.native, flow, {"method": "code", "identifier": person["email"]}, token)
    assert status == 400 and sent["state"] == "sent_email", sent
    code = flag_off.mailed_code(person["email"])
    status, done = _post(flag_off.native, flow, {"method": "code", "code": code, "identifier": person["email"]}, token)
    assert status == 200 and _when(done["session"]) > _when(session), done


# --- the fallback; aal2 -----------------------------------------------------------------------


def test_with_the_fallback_an_account_without_code_addresses_is_offered_its_email(
    fallback: CodeStack, smtp: SmtpServer
) -> None:
    person = _person(fallback, phone=False)
    token, session = _token(fallback, person)
    flow = _refresh_flow(fallback, token)
    assert [n["attributes"]["value"] for n in _nodes(flow, "address")] == [person["email"]]
    status, sent = _post(fallback.native, flow, {"address": person["email"]}, token)
    assert status == 400 and sent["state"] == "sent_email", sent
    code = code_in(wait_for_mail(smtp, person["email"])[-1])
    status, done = _post(fallback.native, flow, {"method": "code", "code": code, "address": person["email"]}, token)
    assert status == 200 and _when(done["session"]) > _when(session), done


def test_an_aal2_refresh_is_the_second_factor_form_flag_or_not(mfa: CodeStack, smtp: SmtpServer) -> None:
    person = _person(mfa, phone=False, verified=True)
    token, _ = _token(mfa, person)
    first_factor = _refresh_flow(mfa, token)
    assert not _nodes(first_factor, "address"), "no passwordless code: nothing to pick at aal1"
    step_up = _refresh_flow(mfa, token, "aal=aal2")
    status, _ = _post(mfa.native, step_up, {"address": person["email"]}, token)
    assert status == 400
    code = code_in(wait_for_mail(smtp, person["email"])[-1])
    status, upgraded = _post(mfa.native, step_up, {"method": "code", "code": code}, token)
    assert status == 200 and upgraded["session"]["authenticator_assurance_level"] == "aal2", upgraded

    flow = _refresh_flow(mfa, token, "refresh=true&aal=aal2")
    assert not _nodes(flow, "identifier") and _message_ids(flow) == [1010003]
    assert [n["attributes"]["value"] for n in _nodes(flow, "address")] == [person["email"]]
    status, refused = _post(mfa.native, flow, {"address": "not-" + person["email"]}, token)
    assert status == 400 and _message_ids(refused) == [4000035], refused
    status, _ = _post(mfa.native, flow, {"address": person["email"]}, token)
    assert status == 400
    code = code_in(wait_for_mail(smtp, person["email"], 2)[-1])
    status, done = _post(mfa.native, flow, {"method": "code", "code": code}, token)
    assert status == 200, done
    refreshed = done["session"]
    assert refreshed["authenticator_assurance_level"] == "aal2"
    assert _when(refreshed) > _when(upgraded["session"])
    assert [m["method"] for m in refreshed["authentication_methods"]] == ["password", "code", "code"]
