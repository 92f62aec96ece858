"""The built-in UI as a product (issue 18, item 6), read from its HTML like a browser without
JavaScript: the welcome page in words (schema titles, relative times, single- or two-factor, the
verify link only while an address is unverified), settings' labels, messages with whole minutes and
right plurals, readable error pages, focus and live regions for errors, and `ui.brand` on every page
without loosening the Content-Security-Policy. A mistyped /ui/ address gets the UI's own "Page not
found"; an unknown API path keeps Kratos's JSON 404."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden, settings_for
from tests.integration.test_builtin_ui import UI, Page, follow, open_page, register, sign_in, submit, ui_config
from tests.mail_folder import wait_for_mails
from tests.mail_helpers import code_in
from tests.selfservice_helpers import PASSWORD, Browser

LOGO = "https://cdn.example.com/acme/logo.svg"


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory: Path = tmp_path_factory.mktemp("builtin-ui-product")
    config: dict[str, Any] = ui_config()
    config["selfservice"]["flows"]["verification"]["enabled"] = True
    config["selfservice"]["methods"] = {"code": {"enabled": True}, "password": {"enabled": True}}
    config["ui"] = {"brand": {"name": "Acme ID", "logo_url": LOGO, "accent_color": "#ffcc00"}}
    with running_warden(settings_for(directory, f"sqlite://{directory}/warden.sqlite", config)) as running:
        yield running


@pytest.fixture
def browser(warden: ThreadedWarden) -> Browser:
    return Browser(warden.public_url)


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def test_the_welcome_page_speaks_plainly(browser: Browser) -> None:
    email = _email("welcome")
    html = register(browser, email, **{"traits.name.first": "Ada"}).data.decode()
    page = Page(html)
    assert "<dt>E-Mail</dt>" in html and "<dt>First</dt>" in html, "traits by their schema titles"
    assert "<dt>email</dt>" not in html and "name.first" not in page.text
    assert "Single-factor" in page.text and "aal1" not in page.text
    assert re.search(
        r'<time datetime="\d{4}-\d\d-\d\dT[^"]+" title="[^"]+ UTC">(just now|\w+ seconds? ago)</time>', html
    )
    assert "a day from now" in page.text, "the session's lifespan (24h) in words"
    assert "Verify your email address" in page.links, "the address is not verified yet"


def test_the_verify_link_is_gone_once_the_address_is_verified(browser: Browser, warden: ThreadedWarden) -> None:
    email = _email("verified")
    mail_dir = Path(warden.process.settings.get("services.courier.mail_dir"))
    welcome = Page(register(browser, email).data.decode())
    # The sign-up's own mail is sent after its event commits, so it may land after the one asked for
    # below; waiting for it first tells the two apart whatever order they arrive in.
    signup_code = code_in(wait_for_mails(mail_dir, email)[0])
    _, page = open_page(browser, welcome.links["Verify your email address"])
    sent = follow(browser, submit(browser, page.form("email"), {"email": email}, button="method"))
    (code,) = {code_in(mail) for mail in wait_for_mails(mail_dir, email, count=2)} - {signup_code}
    done = submit(browser, Page(sent.data.decode()).form("code"), {"code": code})
    _, after = open_page(browser, done.location)
    assert "You successfully verified your email address." in after.text
    _, welcome = open_page(browser, "/ui/welcome")
    assert "Verify your email address" not in welcome.links and "Account settings" in welcome.links


@pytest.fixture(scope="module")
def mfa_warden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory: Path = tmp_path_factory.mktemp("builtin-ui-mfa")
    config: dict[str, Any] = ui_config()
    config["selfservice"]["methods"] = {"password": {"enabled": True}, "totp": {"enabled": True}}
    config["session"] = {"whoami": {"required_aal": "highest_available"}}
    with running_warden(settings_for(directory, f"sqlite://{directory}/warden.sqlite", config)) as running:
        yield running


def test_a_password_alone_is_sent_on_to_its_second_factor_not_welcomed(mfa_warden: ThreadedWarden) -> None:
    """whoami refuses such a session; the welcome page must not say "You are signed in" to it."""
    email = _email("half")
    body = {
        "schema_id": "default",
        "traits": {"email": email},
        "credentials": {
            "password": {"config": {"password": PASSWORD}},
            "totp": {
                "config": {
                    "totp_url": f"otpauth://totp/Warden:{email}?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Warden"
                }
            },
        },
    }
    assert urllib3.request("POST", f"{mfa_warden.admin_url}/admin/identities", json=body).status == 201
    browser = Browser(mfa_warden.public_url)
    sign_in(browser, email)
    welcome = browser.get("/ui/welcome")
    assert welcome.status == 303, welcome
    assert welcome.location.endswith("/self-service/login/browser?aal=aal2"), welcome.location
    _, page = open_page(browser, welcome.location)
    assert page.form("totp_code")["method"] == "post"  # the second-factor form


def test_settings_labels_the_new_password_apart_from_its_heading(browser: Browser) -> None:
    register(browser, _email("settings"))
    response, page = open_page(browser, "/ui/settings")
    assert "Password" in page.headings
    password = next(i for i in page.form("password")["inputs"] if i.get("name") == "password")
    assert page.labels[password["id"]] == "New password"
    assert list(page.labels.values()).count("Password") == 0

    back = submit(browser, page.form("password"), {"password": "x"})
    response, again = open_page(browser, back.location)
    html = response.data.decode()
    field = next(i for i in again.form("password")["inputs"] if i.get("name") == "password")
    assert field["aria-invalid"] == "true" and "autofocus" in field, "focus on the first invalid field"
    assert f'aria-describedby="{field["id"]}-messages"' in html
    assert re.search(rf'<ul class="messages" id="{field["id"]}-messages" aria-live="polite">', html)
    assert "at least 8 characters long" in again.text


def test_the_error_page_is_readable_with_a_way_back(browser: Browser) -> None:
    _, page = open_page(browser, "/ui/login")
    refused = submit(browser, page.form("identifier"), {"identifier": "x@example.com", "csrf_token": "forged"})
    response, error = open_page(browser, refused.location)
    html = response.data.decode()
    assert "Something went wrong" in error.headings or "Something went wrong" in error.text
    assert "Go back and try again." in error.text
    assert "<summary>Technical details</summary>" in html and "security_csrf_violation" in error.text
    assert error.links["Back"] == f"{UI}welcome" and error.links["Sign in"] == f"{UI}login"
    assert not html.lstrip().startswith("{")


def test_the_brand_is_on_every_page_and_the_csp_only_admits_its_logo(browser: Browser) -> None:
    pages = [open_page(browser, path)[0] for path in ("/ui/login", "/ui/registration", "/ui/welcome")]
    pages.append(browser.get(f"/ui/error?id={uuid.uuid4()}"))  # a 404 page, branded too
    for response in pages:
        html = response.data.decode()
        assert f'<img class="logo" src="{LOGO}" alt="Acme ID">' in html and "· Acme ID</title>" in html
        csp = response.headers["Content-Security-Policy"]
        assert "img-src 'self' data: https://cdn.example.com;" in csp, csp
        assert "script-src 'self';" in csp and "style-src 'self';" in csp and "unsafe-inline" not in csp
        assert "style=" not in html and "<style" not in html, "no inline style: the colour is in the stylesheet"
    css = browser.get("/ui/style.css").data.decode()
    assert css.rstrip().endswith(":root { --accent: #ffcc00; --on-accent: #000000; }"), "dark text on a light accent"


@pytest.mark.parametrize(("path", "status"), [("/ui/login", 405), ("/ui/welcome", 405), ("/ui/foo", 404)])
def test_a_form_sent_to_a_ui_address_gets_a_ui_page_not_the_apis_json(browser: Browser, path: str, status: int) -> None:
    """The UI's pages only open; forms go to /self-service/…: a form sent to a page, or to no page,
    is answered in the UI's own words, as a person reads them."""
    response = browser.post(path, {"identifier": "someone@example.com"})
    assert response.status == status and response.headers["Content-Type"].startswith("text/html"), response
    text = Page(response.data.decode()).text
    if status == 405:
        assert response.headers["Allow"] == "GET, HEAD"
        assert "This page opens from a link; it does not take a form." in text
    else:
        assert "There is no page at this address." in text


@pytest.mark.parametrize("path", ["/ui/foo", "/ui/logn?flow=1", "/ui/settings/extra/"])
def test_a_mistyped_ui_address_gets_the_uis_own_not_found_page(browser: Browser, path: str) -> None:
    response = browser.get(path)
    assert response.status == 404 and response.headers["Content-Type"].startswith("text/html"), response
    html = response.data.decode()
    page = Page(html)
    assert (
        "<title>Page not found · Acme ID</title>" in html and f'<img class="logo" src="{LOGO}" alt="Acme ID">' in html
    )
    assert "There is no page at this address." in page.text
    assert page.links["Go to the welcome page"] == f"{UI}welcome" and page.links["Sign in"] == f"{UI}login"
    assert (
        response.headers["Content-Security-Policy"]
        == open_page(browser, "/ui/login")[0].headers["Content-Security-Policy"]
    )
    [stylesheet] = re.findall(r'<link rel="stylesheet" href="([^"]+)">', html)
    assert urljoin(f"{UI}{path.removeprefix('/ui/')}", stylesheet) == f"{UI}style.css", "styled at any depth"


@pytest.mark.parametrize("path", ["/foo", "/uifoo", "/self-service/nope", "/sessions/whoami/extra"])
def test_an_unknown_api_path_keeps_kratos_json_404(browser: Browser, path: str) -> None:
    response = browser.get(path)  # even from a browser that asks for HTML: it is not the UI's
    assert response.status == 404 and response.headers["Content-Type"].startswith("application/json"), response
    error = json.loads(response.data)["error"]
    assert {k: error[k] for k in ("code", "status", "message")} == {
        "code": 404,
        "status": "Not Found",
        "message": "The requested resource could not be found",
    }
