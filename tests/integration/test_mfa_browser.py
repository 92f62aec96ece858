"""Second factors in a browser, through the built-in UI over real HTTP, on SQLite and PostgreSQL: the
QR code and code entry in settings, backup codes shown once with a copy and download affordance, the
aal2 sign-in page a password sign-in leads to under `required_aal: highest_available`, whoami before
and after, and a SPA told where to go (422)."""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pyotp
import pytest

from tests.factories import ThreadedWarden, running_warden, settings_for
from tests.integration.test_builtin_ui import BASE, Page, follow, open_page, register, submit, ui_config
from tests.selfservice_helpers import PASSWORD, Browser, database

METHODS = {"totp": {"enabled": True, "config": {"issuer": "Warden UI"}}, "lookup_secret": {"enabled": True}}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def warden(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory: Path = tmp_path_factory.mktemp("mfa-ui")
    config = ui_config()
    config["selfservice"]["methods"] = METHODS
    config["session"] = {"whoami": {"required_aal": "highest_available"}}
    config["secrets"]["cipher"] = ["fedcba9876543210fedcba9876543210"]
    with database(request.param, directory) as dsn, running_warden(settings_for(directory, dsn, config)) as running:
        yield running


@pytest.fixture
def browser(warden: ThreadedWarden) -> Browser:
    return Browser(warden.public_url)


def _email() -> str:
    return f"mfa-ui-{uuid.uuid4().hex[:10]}@example.com"


def _html(response: Any) -> str:
    return str(response.data.decode())


def _pair_totp(browser: Browser) -> str:
    response, page = open_page(browser, "/ui/settings")
    html = _html(response)
    qr = re.search(r'<img src="(data:image/png;base64,[^"]+)" alt="([^"]*)"', html)
    assert qr and unescape(qr.group(2)) == "Authenticator app QR code"
    assert base64.b64decode(qr.group(1).split(",", 1)[1]).startswith(b"\x89PNG")
    secret = re.search(r'id="totp_secret_key">.*?<pre>([A-Z2-7]+)</pre>', html, re.S)
    assert secret, "the secret is shown for typing in"
    done = follow(browser, submit(browser, page.form("totp_code"), {"totp_code": pyotp.TOTP(secret.group(1)).now()}))
    assert done.status == 200 and "totp_unlink" in _html(done), "paired: the form now offers to unlink"
    return secret.group(1)


def _form_with_button(page: Page, button: str) -> dict[str, Any]:
    return next(f for f in page.forms if any(b.get("name") == button for b in f["buttons"]))


def _whoami(browser: Browser) -> Any:
    return browser.get("/sessions/whoami", as_json=True)


def test_pairing_then_signing_in_with_password_and_totp_through_the_ui(browser: Browser) -> None:
    email = _email()
    register(browser, email)
    secret = _pair_totp(browser)
    assert _whoami(browser).json()["authenticator_assurance_level"] == "aal2"

    browser.cookies.clear()
    _, page = open_page(browser, "/ui/login")
    after_password = submit(browser, page.form("identifier"), {"identifier": email, "password": PASSWORD})
    assert after_password.status == 303 and "aal=aal2" in after_password.location, after_password
    refused = _whoami(browser)
    assert refused.status == 403 and refused.json()["error"]["id"] == "session_aal2_required"

    second = follow(browser, after_password)
    html = _html(second)
    assert second.status == 200 and "Second factor" in html
    assert "Please complete the second authentication challenge." in html
    step2 = Page(html)
    assert "password" not in {i.get("name") for f in step2.forms for i in f["inputs"]}
    wrong = follow(browser, submit(browser, step2.form("totp_code"), {"totp_code": "12345"}))
    assert "The provided authentication code is invalid, please try again." in _html(wrong)

    code = pyotp.TOTP(secret).at(time.time() + 30)  # the pairing spent the current step
    done = submit(browser, Page(_html(wrong)).form("totp_code"), {"totp_code": code})
    assert done.status == 303 and done.location == f"{BASE}ui/welcome", done
    session = _whoami(browser).json()
    assert session["authenticator_assurance_level"] == "aal2"
    assert [m["method"] for m in session["authentication_methods"]] == ["password", "totp"]
    assert "Two-factor" in _html(follow(browser, done)), "the welcome page says aal2 in words"


def test_asking_an_aal2_session_for_aal2_sends_the_browser_on(browser: Browser) -> None:
    """Kratos answers `?aal=aal2` for a session that has it already as it answers any signed-in
    browser (ErrAlreadyLoggedIn): a 303 to the return URL; JSON clients get 400
    session_already_available."""
    register(browser, _email())
    _pair_totp(browser)
    assert _whoami(browser).json()["authenticator_assurance_level"] == "aal2"
    again = browser.get("/self-service/login/browser?aal=aal2")
    assert again.status == 303 and again.location == f"{BASE}ui/welcome", again
    as_json = browser.get("/self-service/login/browser?aal=aal2", as_json=True)
    assert as_json.status == 400 and as_json.json()["error"]["id"] == "session_already_available", as_json


def test_backup_codes_are_shown_once_to_copy_or_download_and_sign_in(browser: Browser) -> None:
    email = _email()
    register(browser, email)
    _, page = open_page(browser, "/ui/settings")
    shown = follow(
        browser,
        submit(browser, _form_with_button(page, "lookup_secret_regenerate"), {}, button="lookup_secret_regenerate"),
    )
    html = _html(shown)
    area = re.search(r"<textarea readonly[^>]*>([^<]+)</textarea>", html)
    assert area, "the codes sit in a field a click selects, to copy"
    codes = area.group(1).split()
    assert len(codes) == 12 and all(re.fullmatch(r"[a-z0-9]{8}", c) for c in codes)
    download = re.search(r'<a download="backup-recovery-codes.txt" href="([^"]+)"', html)
    assert download and unquote(unescape(download.group(1))).split(",", 1)[1].split() == codes
    confirm_page = Page(html)
    confirmed = follow(
        browser,
        submit(browser, _form_with_button(confirm_page, "lookup_secret_confirm"), {}, button="lookup_secret_confirm"),
    )
    assert "lookup_secret_reveal" in _html(confirmed) and not any(c in _html(confirmed) for c in codes)

    browser.cookies.clear()
    _, login = open_page(browser, "/ui/login")
    step2 = follow(browser, submit(browser, login.form("identifier"), {"identifier": email, "password": PASSWORD}))
    done = submit(browser, Page(_html(step2)).form("lookup_secret"), {"lookup_secret": codes[0]})
    assert done.status == 303 and _whoami(browser).json()["authenticator_assurance_level"] == "aal2"


def test_a_spa_is_told_to_take_the_browser_to_the_second_factor(browser: Browser, warden: ThreadedWarden) -> None:
    email = _email()
    register(browser, email)
    _pair_totp(browser)
    spa = Browser(warden.public_url, json=True)
    flow = spa.get("/self-service/login/browser").json()
    csrf = next(n["attributes"]["value"] for n in flow["ui"]["nodes"] if n["attributes"]["name"] == "csrf_token")
    body = {"method": "password", "identifier": email, "password": PASSWORD, "csrf_token": csrf}
    answer = spa.post(flow["ui"]["action"], body)
    assert answer.status == 422 and answer.json()["error"]["id"] == "browser_location_change_required"
    assert "aal=aal2" in answer.json()["redirect_browser_to"]
    aal2 = spa.get(answer.json()["redirect_browser_to"]).json()
    assert aal2["requested_aal"] == "aal2" and any(
        n["attributes"].get("name") == "totp_code" for n in aal2["ui"]["nodes"]
    )
