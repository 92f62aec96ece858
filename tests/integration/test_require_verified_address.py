"""`require_verified_address` after a password login, with and without
`feature_flags.legacy_require_verified_login_error`, through the native API (the Kratos SDK), a
SPA and the built-in UI.

Kratos today (the flag off): no session; a verification flow for the address, in `sent_email`, its
code mailed; JSON clients get 403 `session_verified_address_required` (the body's own code stays
400, as herodot writes it) with the flow as `details.continue_with`, a browser form a 303 to the
verification UI. The code verifies the address, and the login then goes through. With the flag,
Kratos's former answer: the login form again with 4000010, and no mail.

An account whose only address is a phone number gets the same, its code by SMS (the courier's HTTP
channel to a sink on loopback); one with no address at all, Kratos's 500 misconfiguration error
(4000010 with the flag, as before)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ory_kratos_client as kratos
import pytest
import urllib3
from ory_kratos_client.api.frontend_api import FrontendApi

from tests.code_helpers import Native, SmsSink, sms_code
from tests.factories import ThreadedWarden, running_warden, settings_for
from tests.integration.test_builtin_ui import UI, open_page, submit, ui_config
from tests.mail_folder import mails_to, wait_for_mails
from tests.mail_helpers import code_in
from tests.selfservice_helpers import PASSWORD, Browser, api_error, create_identity, message_ids, node

REASON = (
    "Your account's email or phone address are not verified yet. Please check your email or phone inbox or "
    "re-request verification."
)
NOT_ACTIVE = "Account not active yet. Did you forget to verify your email address?"
NO_ADDRESS = (
    "A misconfiguration prevents login. Expected to find a verification address but this identity does not have "
    "one assigned."
)
# An account that signs in by username and whose one verifiable address is its phone number.
PHONE_SCHEMA: dict[str, Any] = {
    "$id": "https://warden.test/schemas/username-phone.json",
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "traits": {
            "type": "object",
            "properties": {
                "username": {"type": "string", "ory.sh/kratos": {"credentials": {"password": {"identifier": True}}}},
                "phone": {"type": "string", "format": "tel", "ory.sh/kratos": {"verification": {"via": "sms"}}},
            },
            "required": ["username", "phone"],
            "additionalProperties": False,
        }
    },
}


@pytest.fixture(scope="module", params=["current", "legacy"])
def warden(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sms: SmsSink
) -> Iterator[ThreadedWarden]:
    directory: Path = tmp_path_factory.mktemp(f"require-verified-{request.param}")
    config: dict[str, Any] = ui_config()
    flows = config["selfservice"]["flows"]
    flows["verification"]["enabled"] = True
    flows["login"]["after"] = {"password": {"hooks": [{"hook": "require_verified_address"}]}}
    config["selfservice"]["methods"] = {"code": {"enabled": True}, "password": {"enabled": True}}
    config["courier"] = {
        "channels": [{"id": "sms", "type": "http", "request_config": {"url": sms.url, "method": "POST"}}]
    }
    (directory / "phone.schema.json").write_text(json.dumps(PHONE_SCHEMA))
    config["identity"] = {
        "default_schema_id": "default",
        "schemas": [
            {"id": schema, "url": f"file://{directory}/{schema}.schema.json"}
            for schema in ("default", "username", "phone")  # the first two: settings_for's
        ],
    }
    if request.param == "legacy":
        config["feature_flags"] = {"legacy_require_verified_login_error": True}
    with running_warden(settings_for(directory, f"sqlite://{directory}/warden.sqlite", config)) as running:
        yield running


def legacy(warden: ThreadedWarden) -> bool:
    return bool(warden.process.settings.get("feature_flags.legacy_require_verified_login_error"))


@pytest.fixture
def mail_dir(warden: ThreadedWarden) -> Path:
    return Path(warden.process.settings.get("services.courier.mail_dir"))


@pytest.fixture(scope="module")
def frontend(warden: ThreadedWarden) -> Iterator[FrontendApi]:
    with kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as client:
        yield FrontendApi(client)


def _account(warden: ThreadedWarden, prefix: str) -> str:
    """An account whose address nobody verified (made by the admin API: no mail goes to it)."""
    email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
    create_identity(warden.admin_url, email)
    return email


def _account_of(warden: ThreadedWarden, schema: str, traits: dict[str, str]) -> None:
    body = {"schema_id": schema, "traits": traits, "credentials": {"password": {"config": {"password": PASSWORD}}}}
    created = urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=body)
    assert created.status == 201, created.data


def _phone_account(warden: ThreadedWarden, prefix: str) -> tuple[str, str]:
    """An account signing in by username whose one address, a phone number, nobody verified:
    (username, phone number)."""
    username, phone = f"{prefix}-{uuid.uuid4().hex[:10]}", "+4915" + str(uuid.uuid4().int)[:9]
    _account_of(warden, "phone", {"username": username, "phone": phone})
    return username, phone


def _addressless_account(warden: ThreadedWarden, prefix: str) -> str:
    """An account with no verifiable address at all (its schema names none): its username."""
    username = f"{prefix}-{uuid.uuid4().hex[:10]}"
    _account_of(warden, "username", {"username": username})
    return username


def _login(email: str) -> kratos.UpdateLoginFlowBody:
    return kratos.UpdateLoginFlowBody(
        kratos.UpdateLoginFlowWithPasswordMethod(method="password", identifier=email, password=PASSWORD)
    )


def _verification_item(body: dict[str, Any], email: str) -> dict[str, Any]:
    """The error Kratos writes, and the one verification flow it names."""
    error = body["error"]
    assert (error["id"], error["code"], error["status"]) == ("session_verified_address_required", 400, "Bad Request")
    assert error["reason"] == REASON and error["message"] == "your email or phone address is not yet verified"
    [item] = error["details"]["continue_with"]
    assert item["action"] == "show_verification_ui" and item["flow"]["verifiable_address"] == email
    assert item["flow"]["url"] == f"{UI}verification?flow={item['flow']['id']}"
    return dict(item)


def test_a_native_login_gets_the_verification_flow_or_the_legacy_form_error(
    warden: ThreadedWarden, frontend: FrontendApi, mail_dir: Path
) -> None:
    email = _account(warden, "app")
    flow = frontend.create_native_login_flow()
    status, body = api_error(lambda: frontend.update_login_flow(flow.id, _login(email)))
    if legacy(warden):
        assert status == 400 and message_ids(body) == [4000010], body
        assert "session" not in body and mails_to(mail_dir, email) == []
        return
    assert status == 403, body
    item = _verification_item(body, email)
    verification = frontend.get_verification_flow(item["flow"]["id"]).to_dict()
    assert verification["type"] == "api" and verification["state"] == "sent_email"
    assert node(verification, "email")["attributes"]["value"] == email, "resend, to that address"

    [mail] = wait_for_mails(mail_dir, email)
    body = kratos.UpdateVerificationFlowBody(
        kratos.UpdateVerificationFlowWithCodeMethod(method="code", code=code_in(mail))
    )
    verified = frontend.update_verification_flow(item["flow"]["id"], body)
    assert verified.state == "passed_challenge"
    signed_in = frontend.update_login_flow(frontend.create_native_login_flow().id, _login(email))
    assert signed_in.session_token and signed_in.session.identity.verifiable_addresses[0].verified is True


def test_a_spa_login_gets_the_same_403_or_the_legacy_form_error(warden: ThreadedWarden, mail_dir: Path) -> None:
    email, spa = _account(warden, "spa"), Browser(warden.public_url, json=True)
    flow = spa.get("/self-service/login/browser").json()
    body = {
        "csrf_token": node(flow, "csrf_token")["attributes"]["value"],
        "method": "password",
        "identifier": email,
        "password": PASSWORD,
    }
    answer = spa.post(flow["ui"]["action"], body)
    assert "ory_kratos_session" not in answer.set_cookies, "no session either way"
    if legacy(warden):
        assert answer.status == 400 and message_ids(answer.json()) == [4000010], answer
        return
    assert answer.status == 403, answer
    item = _verification_item(answer.json(), email)
    verification = spa.get(f"/self-service/verification/flows?id={item['flow']['id']}").json()
    assert verification["type"] == "browser" and verification["state"] == "sent_email"
    assert [m["id"] for m in verification["ui"]["messages"]] == [1080003]
    wait_for_mails(mail_dir, email)


def test_a_browser_form_goes_to_the_verification_page_or_back_to_the_login_form(
    warden: ThreadedWarden, mail_dir: Path
) -> None:
    email, browser = _account(warden, "ui"), Browser(warden.public_url)
    _, page = open_page(browser, "/ui/login")
    answer = submit(browser, page.form("identifier"), {"identifier": email, "password": PASSWORD})
    assert answer.status == 303 and "ory_kratos_session" not in answer.set_cookies, answer
    if legacy(warden):
        assert answer.location.startswith(f"{UI}login?flow="), answer
        _, back = open_page(browser, answer.location)
        assert NOT_ACTIVE in back.text
        return
    assert answer.location.startswith(f"{UI}verification?flow="), answer
    _, shown = open_page(browser, answer.location)
    [mail] = wait_for_mails(mail_dir, email)
    done = submit(browser, shown.form("code"), {"code": code_in(mail)})
    assert done.status == 303, done
    _, after = open_page(browser, done.location)
    assert "You successfully verified your email address." in after.text
    signed_in = submit(
        browser, open_page(browser, "/ui/login")[1].form("identifier"), {"identifier": email, "password": PASSWORD}
    )
    assert signed_in.status == 303 and "ory_kratos_session" in signed_in.set_cookies, signed_in


def test_a_verified_address_signs_in_either_way(warden: ThreadedWarden, frontend: FrontendApi, mail_dir: Path) -> None:
    email = f"verified-{uuid.uuid4().hex[:10]}@example.com"
    body = {
        "schema_id": "default",
        "traits": {"email": email},
        "credentials": {"password": {"config": {"password": PASSWORD}}},
        "verifiable_addresses": [{"value": email, "via": "email", "verified": True, "status": "completed"}],
    }
    created = urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=body)
    assert created.status == 201, created.data
    signed_in = frontend.update_login_flow(frontend.create_native_login_flow().id, _login(email))
    assert signed_in.session_token and mails_to(mail_dir, email) == []


def test_a_native_login_of_a_phone_only_account_texts_the_code_or_gets_the_legacy_form_error(
    warden: ThreadedWarden, frontend: FrontendApi, sms: SmsSink
) -> None:
    username, phone = _phone_account(warden, "app-phone")
    status, body = api_error(
        lambda: frontend.update_login_flow(frontend.create_native_login_flow().id, _login(username))
    )
    if legacy(warden):
        assert status == 400 and message_ids(body) == [4000010], body
        assert "session" not in body and sms.to(phone) == []
        return
    assert status == 403, body
    item = _verification_item(body, phone)
    flow_id = item["flow"]["id"]
    verification = frontend.get_verification_flow(flow_id).to_dict()
    assert verification["type"] == "api" and verification["state"] == "sent_email"
    assert message_ids(verification) == [1080004], "a text message, not an email, went out"
    assert node(verification, "sms")["attributes"]["value"] == phone, "resend, to that number"
    [first] = sms.wait_for(phone)
    assert first["template_type"] == "verification_code_valid", first

    # The resend button texts that number again; no other number can be put in its place.
    native = Native(warden.public_url)
    other = "+4915" + str(uuid.uuid4().int)[:9]
    refused = native.post(f"/self-service/verification?flow={flow_id}", {"method": "code", "sms": other})
    assert refused.status == 400 and message_ids(refused.json()) == [4000002], refused
    resent = native.post(f"/self-service/verification?flow={flow_id}", {"method": "code", "sms": phone})
    assert resent.status == 200 and message_ids(resent.json()) == [1080004], resent
    [_, second] = sms.wait_for(phone, 2)
    assert sms.to(other) == []

    code = kratos.UpdateVerificationFlowBody(
        kratos.UpdateVerificationFlowWithCodeMethod(method="code", code=sms_code(second))
    )
    verified = frontend.update_verification_flow(flow_id, code)
    assert verified.state == "passed_challenge" and message_ids(verified) == [1080005]
    signed_in = frontend.update_login_flow(frontend.create_native_login_flow().id, _login(username))
    [address] = signed_in.session.identity.verifiable_addresses
    assert signed_in.session_token and (address.value, address.via, address.verified) == (phone, "sms", True)


def test_a_browser_form_of_a_phone_only_account_goes_to_the_verification_page_or_back_to_the_login_form(
    warden: ThreadedWarden, sms: SmsSink
) -> None:
    (username, phone), browser = _phone_account(warden, "ui-phone"), Browser(warden.public_url)
    _, page = open_page(browser, "/ui/login")
    answer = submit(browser, page.form("identifier"), {"identifier": username, "password": PASSWORD})
    assert answer.status == 303 and "ory_kratos_session" not in answer.set_cookies, answer
    if legacy(warden):
        assert answer.location.startswith(f"{UI}login?flow="), answer
        assert NOT_ACTIVE in open_page(browser, answer.location)[1].text
        return
    assert answer.location.startswith(f"{UI}verification?flow="), answer
    _, shown = open_page(browser, answer.location)
    assert "A text message containing a verification code has been sent" in shown.text
    [text] = sms.wait_for(phone)
    done = submit(browser, shown.form("code"), {"code": sms_code(text)})
    assert done.status == 303, done
    assert "You successfully verified your phone number." in open_page(browser, done.location)[1].text
    signed_in = submit(
        browser, open_page(browser, "/ui/login")[1].form("identifier"), {"identifier": username, "password": PASSWORD}
    )
    assert signed_in.status == 303 and "ory_kratos_session" in signed_in.set_cookies, signed_in


def _misconfiguration(error: dict[str, Any]) -> None:
    """Kratos's answer for an account with no address to verify: herodot's ErrMisconfiguration."""
    assert (error["code"], error["status"], error["reason"]) == (500, "Internal Server Error", NO_ADDRESS), error
    assert (error["id"], error["message"]) == ("invalid_configuration", "Invalid configuration"), error


def test_a_native_login_of_an_account_without_addresses_is_a_misconfiguration_with_the_legacy_flag_too(
    warden: ThreadedWarden, frontend: FrontendApi
) -> None:
    username = _addressless_account(warden, "app-none")
    status, body = api_error(
        lambda: frontend.update_login_flow(frontend.create_native_login_flow().id, _login(username))
    )
    assert status == 500 and "session" not in body, body
    _misconfiguration(body["error"])


def test_a_spa_login_of_an_account_without_addresses_gets_the_same_500(warden: ThreadedWarden) -> None:
    username, spa = _addressless_account(warden, "spa-none"), Browser(warden.public_url, json=True)
    flow = spa.get("/self-service/login/browser").json()
    body = {
        "csrf_token": node(flow, "csrf_token")["attributes"]["value"],
        "method": "password",
        "identifier": username,
        "password": PASSWORD,
    }
    answer = spa.post(flow["ui"]["action"], body)
    assert "ory_kratos_session" not in answer.set_cookies, answer
    assert answer.status == 500, answer
    _misconfiguration(answer.json()["error"])


def test_a_browser_form_of_an_account_without_addresses_goes_to_the_error_page(
    warden: ThreadedWarden,
) -> None:
    username, browser = _addressless_account(warden, "ui-none"), Browser(warden.public_url)
    _, page = open_page(browser, "/ui/login")
    answer = submit(browser, page.form("identifier"), {"identifier": username, "password": PASSWORD})
    assert answer.status == 303 and "ory_kratos_session" not in answer.set_cookies, answer
    assert answer.location.startswith(f"{UI}error?id="), answer
    stored = browser.get(f"/self-service/errors?id={answer.location.split('id=', 1)[1]}")
    assert stored.status == 200, stored
    _misconfiguration(stored.json()["error"])
    assert NO_ADDRESS in open_page(browser, answer.location)[1].text
