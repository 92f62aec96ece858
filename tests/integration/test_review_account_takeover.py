"""Findings of the review of account takeover and pre-hijacking across the self-service flows, each
driven over real HTTP as an attacker who knows the victim's address would drive it: with their own
browser or app, the public API and, at times, a mailbox the victim has since given up."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import urllib3

from tests.code_helpers import CodeStack, Native, SmsSink, code_config
from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import (
    PASSWORD,
    UI,
    Browser,
    api_password_login,
    message_ids,
    selfservice_settings,
)
from tests.smtp import SmtpServer
from tests.webauthn_authenticator import post_flow

PRIVILEGED_SECONDS = 2


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


# --- the privileged session of an account with a second factor -------------------------------------


@pytest.fixture(scope="module")
def with_totp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("account-takeover-totp")
    settings = selfservice_settings(
        directory,
        f"sqlite://{directory}/w.sqlite",
        methods={"password": {"enabled": True}, "totp": {"enabled": True}},
        flows={"settings": {"privileged_session_max_age": f"{PRIVILEGED_SECONDS}s"}},
        session={"lifespan": "2h", "whoami": {"required_aal": "highest_available"}},
    )
    with running_warden(settings) as warden:
        yield warden


def _get(warden: ThreadedWarden, path: str, token: str) -> Any:
    headers = {"Accept": "application/json", "X-Session-Token": token}
    return urllib3.request("GET", f"{warden.public_url}{path}", headers=headers)


def _settings(warden: ThreadedWarden, token: str, body: dict[str, Any]) -> tuple[int, Any]:
    flow = _get(warden, "/self-service/settings/api", token).json()
    return post_flow(warden.public_url, "settings", flow["id"], body, token)


def _login_step(warden: ThreadedWarden, query: str, token: str, body: dict[str, Any]) -> Any:
    flow = _get(warden, f"/self-service/login/api?{query}", token).json()
    status, answer = post_flow(warden.public_url, "login", flow["id"], body, token)
    assert status == 200, answer
    return answer


def _totp_code(secret: str, step: int) -> str:
    """The code of this step or the next: each step is accepted once, and only after the last
    (replay.py), so a later step is needed for each use."""
    return pyotp.TOTP(secret).at(time.time() + 30 * step)


def test_a_password_refresh_does_not_make_a_stale_aal2_session_privileged(with_totp: ThreadedWarden) -> None:
    """An attacker holds a stolen aal2 session (password and authenticator app) past its privileged
    window, and the password, not the authenticator. Refreshing the session with the password alone
    kept it aal2 and made it privileged: the attacker then unlinked the authenticator and changed
    the password. A second factor must have been proven within the window too: the refresh asks for
    it (`refresh=true&aal=aal2`), and its owner's authenticator then makes the change."""
    warden, email = with_totp, _email()
    secret = _with_totp(warden, email)
    token = api_password_login(warden.public_url, email)
    upgraded = _login_step(warden, "aal=aal2", token, {"method": "totp", "totp_code": _totp_code(secret, 0)})
    assert upgraded["session"]["authenticator_assurance_level"] == "aal2"
    time.sleep(PRIVILEGED_SECONDS + 0.5)  # the stolen session's window is over

    refreshed = _login_step(
        warden, "refresh=true", token, {"method": "password", "identifier": email, "password": PASSWORD}
    )
    assert refreshed["session"]["authenticator_assurance_level"] == "aal2"
    for change in ({"method": "totp", "totp_unlink": True}, {"method": "password", "password": "an0ther-Secret!"}):
        status, answer = _settings(warden, token, change)
        assert status == 403 and answer["error"]["id"] == "session_refresh_required", answer
        asked = parse_qs(urlsplit(answer["redirect_browser_to"]).query)
        assert asked["refresh"] == ["true"] and asked["aal"] == ["aal2"], answer

    _login_step(warden, "refresh=true&aal=aal2", token, {"method": "totp", "totp_code": _totp_code(secret, 1)})
    status, answer = _settings(warden, token, {"method": "totp", "totp_unlink": True})
    assert status == 200 and answer["state"] == "success", answer


def _with_totp(warden: ThreadedWarden, email: str) -> str:
    """An account with a password and an authenticator app (imported: pairing would spend a step)."""
    secret = pyotp.random_base32()
    created = urllib3.request(
        "POST",
        f"{warden.admin_url}/admin/identities",
        json={
            "schema_id": "default",
            "traits": {"email": email},
            "credentials": {
                "password": {"config": {"password": PASSWORD}},
                "totp": {"config": {"totp_url": pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="Warden")}},
            },
        },
    )
    assert created.status == 201, created.data
    return secret


def _browser_step(browser: Browser, url: str, body: dict[str, Any]) -> Any:
    """A login page the browser was sent to, filled in and submitted as a SPA does."""
    started = browser.get(url)
    flow = started.json() if started.status == 200 else browser.get(_flow_of(browser, started.location)).json()
    csrf = next(n for n in flow["ui"]["nodes"] if n["attributes"].get("name") == "csrf_token")
    return browser.post(flow["ui"]["action"], {"csrf_token": csrf["attributes"]["value"], **body})


def _flow_of(browser: Browser, location: str) -> str:
    return f"/self-service/login/flows?id={parse_qs(urlsplit(location).query)['flow'][0]}"


def _redirect_of(answer: Any) -> str:
    body = answer.json()
    if "redirect_browser_to" in body:
        return str(body["redirect_browser_to"])
    return str(next(c["redirect_browser_to"] for c in body["continue_with"] if c["action"] == "redirect_browser_to"))


def test_a_paused_change_of_an_aal2_browser_asks_for_each_stale_factor_and_resumes(with_totp: ThreadedWarden) -> None:
    """The owner's own way through the stricter rule, in a browser: a password change typed past the
    window waits for a sign-in with the password, then with the authenticator, and is applied then."""
    warden, email = with_totp, _email()
    secret = _with_totp(warden, email)
    browser = Browser(warden.public_url, json=True)
    signed_in = _browser_step(
        browser, "/self-service/login/browser", {"method": "password", "identifier": email, "password": PASSWORD}
    )
    assert signed_in.status == 422, signed_in  # on to the second factor
    stepped = _browser_step(browser, _redirect_of(signed_in), {"method": "totp", "totp_code": _totp_code(secret, 0)})
    assert stepped.status == 200 and stepped.json()["session"]["authenticator_assurance_level"] == "aal2", stepped
    time.sleep(PRIVILEGED_SECONDS + 0.5)

    flow = browser.get("/self-service/settings/browser").json()
    csrf = next(n for n in flow["ui"]["nodes"] if n["attributes"].get("name") == "csrf_token")["attributes"]["value"]
    new_password = "Owner-Typed-This-9931"
    paused = browser.post(flow["ui"]["action"], {"csrf_token": csrf, "method": "password", "password": new_password})
    assert paused.status == 403 and "aal" not in parse_qs(urlsplit(_redirect_of(paused)).query), paused
    refreshed = _browser_step(
        browser, _redirect_of(paused), {"method": "password", "identifier": email, "password": PASSWORD}
    )
    assert refreshed.status == 200, refreshed
    asked = browser.get(_redirect_of(refreshed), as_json=False)  # the resume: the second factor is stale
    assert asked.status == 303 and parse_qs(urlsplit(asked.location).query)["aal"] == ["aal2"], asked
    confirmed = _browser_step(browser, asked.location, {"method": "totp", "totp_code": _totp_code(secret, 1)})
    assert confirmed.status == 200, confirmed
    resumed = browser.get(_redirect_of(confirmed), as_json=False)
    assert resumed.status == 303 and "/self-service/login" not in resumed.location, resumed
    api_password_login(warden.public_url, email, new_password)


# --- a copy of the session cookie ------------------------------------------------------------------


def _whoami(warden: ThreadedWarden, cookies: dict[str, str]) -> Any:
    header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return urllib3.request("GET", f"{warden.public_url}/sessions/whoami", headers={"Cookie": header})


def test_a_copied_session_cookie_does_not_share_the_owners_refresh_or_second_factor(
    with_totp: ThreadedWarden,
) -> None:
    """A thief copies the owner's session cookie (a shared computer, malware) and waits: a refresh
    or a second factor the owner gives later, in their own browser (settings asks for one after the
    privileged window), made the same token privileged or aal2, and the thief's copy with it,
    enough to change the password and the email. A browser's re-authentication now gives the
    session a new token and ends the old one (ASVS 7.2.4); an app's token is kept, as in Kratos."""
    warden, email = with_totp, _email()
    secret = _with_totp(warden, email)
    owner = Browser(warden.public_url, json=True)
    signed_in = _browser_step(
        owner, "/self-service/login/browser", {"method": "password", "identifier": email, "password": PASSWORD}
    )
    stolen = dict(owner.cookies)  # taken between the password and the second factor
    stepped = _browser_step(owner, _redirect_of(signed_in), {"method": "totp", "totp_code": _totp_code(secret, 0)})
    assert stepped.status == 200, stepped
    assert _whoami(warden, stolen).status == 401, "the aal1 copy did not become aal2"
    session = _whoami(warden, owner.cookies).json()
    assert session["authenticator_assurance_level"] == "aal2"

    copied = dict(owner.cookies)  # taken once the owner is at aal2, then the window passes
    time.sleep(PRIVILEGED_SECONDS + 0.5)
    refreshed = _browser_step(
        owner,
        "/self-service/login/browser?refresh=true",
        {"method": "password", "identifier": email, "password": PASSWORD},
    )
    assert refreshed.status == 200, refreshed
    assert _whoami(warden, copied).status == 401, "the copy did not become privileged"
    assert _whoami(warden, owner.cookies).json()["id"] == session["id"], "the same session, a new token"
