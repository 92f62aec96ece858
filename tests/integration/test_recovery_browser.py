"""Browser recovery by code, as a server-rendered UI drives it: the code from the mail signs the
browser in and sends it to a settings flow. The CSRF cookie is rotated with the new session, as at
login (Kratos regenerates it whenever it issues a session cookie), and the settings flow is bound to
the new token, so that browser can still submit it."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.factories import ThreadedWarden, running_warden
from tests.mail_helpers import RECOVERY_UI, SETTINGS_UI, code_in, mail_config, mail_warden, wait_for_mail
from tests.selfservice_helpers import (
    CONFIGURED_BASE,
    ERROR_UI,
    UI,
    Browser,
    create_identity,
    node,
    query_param,
    selfservice_settings,
)
from tests.smtp import SmtpServer

CSRF_COOKIE = "csrf_token_" + hashlib.sha256(f"{CONFIGURED_BASE}/".encode()).hexdigest()
NEW_PASSWORD = "Harbor-Violet-Compass-9362"
COOKIE = "ory_kratos_session"


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("recovery-browser")
    with mail_warden(directory, f"sqlite://{directory}/warden.sqlite", smtp, use="code") as stack:
        yield stack.warden


def _flow(browser: Browser, kind: str, location: str) -> dict[str, Any]:
    fetched = browser.get(f"/self-service/{kind}/flows?id={query_param(location, 'flow')}", as_json=True)
    assert fetched.status == 200, fetched
    return fetched.json()


def _csrf(flow: dict[str, Any]) -> str:
    return str(node(flow, "csrf_token")["attributes"]["value"])


def test_recovery_rotates_the_csrf_cookie_and_the_settings_flow_takes_the_new_one(
    warden: ThreadedWarden, smtp: SmtpServer
) -> None:
    email = f"recover-{uuid.uuid4().hex[:10]}@example.com"
    create_identity(warden.admin_url, email)
    browser = Browser(warden.public_url)
    started = browser.get("/self-service/recovery/browser")
    assert started.status == 303 and started.location.startswith(f"{RECOVERY_UI}?flow="), started
    recovery = _flow(browser, "recovery", started.location)
    before = browser.cookies[CSRF_COOKIE]
    sent = browser.post(recovery["ui"]["action"], {"method": "code", "email": email, "csrf_token": _csrf(recovery)})
    assert sent.status == 303, sent
    code = code_in(wait_for_mail(smtp, email)[-1])
    done = browser.post(recovery["ui"]["action"], {"method": "code", "code": code, "csrf_token": before})
    assert done.status == 303 and done.location.startswith(f"{SETTINGS_UI}?flow="), done
    after = done.set_cookies[CSRF_COOKIE].value
    assert after != before and len(after) >= 32, "the CSRF cookie outlived the sign-in"
    assert browser.cookies[CSRF_COOKIE] == after

    settings = _flow(browser, "settings", done.location)
    assert _csrf(settings) == after
    stale = browser.post(
        settings["ui"]["action"], {"method": "password", "password": NEW_PASSWORD, "csrf_token": before}
    )
    assert stale.status == 303 and stale.location.startswith(f"{ERROR_UI}?id="), "the old token is refused"
    error = browser.get(f"/self-service/errors?id={query_param(stale.location, 'id')}", as_json=True).json()
    assert error["error"]["id"] == "security_csrf_violation", error
    changed = browser.post(
        settings["ui"]["action"], {"method": "password", "password": NEW_PASSWORD, "csrf_token": after}
    )
    assert changed.status == 303 and changed.location == f"{SETTINGS_UI}?flow={settings['id']}", changed
    assert _flow(browser, "settings", changed.location)["state"] == "success"


def test_a_recovered_browser_goes_on_to_recovery_after_once_settings_are_saved(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    recovered_url = f"{UI}/app/recovered"
    dsn = f"sqlite://{tmp_path}/warden.sqlite"
    with mail_warden(tmp_path, dsn, smtp, use="code", recovery_after=recovered_url) as stack:
        email = f"recover-after-{uuid.uuid4().hex[:10]}@example.com"
        create_identity(stack.warden.admin_url, email)
        browser = Browser(stack.warden.public_url)
        recovery = _flow(browser, "recovery", browser.get("/self-service/recovery/browser").location)
        csrf = _csrf(recovery)
        browser.post(recovery["ui"]["action"], {"method": "code", "email": email, "csrf_token": csrf})
        code = code_in(wait_for_mail(smtp, email)[-1])
        done = browser.post(recovery["ui"]["action"], {"method": "code", "code": code, "csrf_token": csrf})
        settings = _flow(browser, "settings", done.location)
        assert settings["return_to"] == recovered_url
        form = {"method": "password", "password": NEW_PASSWORD, "csrf_token": _csrf(settings)}
        saved = browser.post(settings["ui"]["action"], form)
        assert saved.status == 303 and saved.location == recovered_url, saved


def test_with_continue_with_transitions_an_spa_is_answered_with_the_settings_flow_to_show(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    """`feature_flags.use_continue_with_transitions`: Kratos's `recoveryIssueSession` answers an SPA
    (a browser flow asked for JSON) with the recovery flow and `continue_with: [show_settings_ui]`,
    200, beside the session cookie, instead of 422 browser_location_change_required."""
    settings = selfservice_settings(
        tmp_path,
        f"sqlite://{tmp_path}/warden.sqlite",
        **mail_config(smtp, use="code"),
        feature_flags={"use_continue_with_transitions": True},
    )
    with running_warden(settings) as warden:
        email = f"recover-spa-{uuid.uuid4().hex[:10]}@example.com"
        create_identity(warden.admin_url, email)
        spa = Browser(warden.public_url, json=True)
        recovery = spa.get("/self-service/recovery/browser").json()
        csrf = _csrf(recovery)
        assert spa.post(recovery["ui"]["action"], {"method": "code", "email": email, "csrf_token": csrf}).status == 200
        code = code_in(wait_for_mail(smtp, email)[-1])
        done = spa.post(recovery["ui"]["action"], {"method": "code", "code": code, "csrf_token": csrf})
        assert done.status == 200, done
        answer = done.json()
        assert answer["state"] == "passed_challenge", answer
        [item] = answer["continue_with"]
        assert (
            item["action"] == "show_settings_ui" and item["flow"]["url"] == f"{SETTINGS_UI}?flow={item['flow']['id']}"
        )
        assert COOKIE in done.set_cookies
        whoami = spa.get("/sessions/whoami", as_json=True)
        assert whoami.status == 200 and whoami.json()["identity"]["id"] is not None
        assert _flow(spa, "settings", item["flow"]["url"])["identity"]["id"] == whoami.json()["identity"]["id"]
