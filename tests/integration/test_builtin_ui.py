"""The built-in UI under `/ui/`, driven like a browser: cookies kept, redirects followed one by one
(the configured base URL's host rewritten to the running server's), forms read from the HTML and
posted url-encoded to their action, as a browser without JavaScript would."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from services.selfservice.ui.view import sections
from tests.factories import ThreadedWarden, running_warden, settings_for
from tests.selfservice_helpers import COOKIE_SECRET, PASSWORD, Browser, Response, create_identity, query_param

BASE = "http://127.0.0.1:4433/"  # the factory's serve.public.base_url
UI = f"{BASE}ui/"
WELCOME = f"{UI}welcome"
INVALID_CREDENTIALS = (
    "The provided credentials are invalid, check for spelling mistakes in your password or "
    "username, email address, or phone number."
)
CSRF_MESSAGE = "The request was rejected to protect you from Cross-Site-Request-Forgery"


def ui_config() -> dict[str, Any]:
    flows: dict[str, Any] = {
        kind: {"ui_url": f"{UI}{kind}"}
        for kind in ("login", "registration", "settings", "recovery", "verification", "error")
    }
    flows["registration"]["after"] = {"password": {"hooks": [{"hook": "session"}]}}
    return {
        "secrets": {"cookie": [COOKIE_SECRET]},
        "selfservice": {"default_browser_return_url": WELCOME, "allowed_return_urls": [BASE], "flows": flows},
    }


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory: Path = tmp_path_factory.mktemp("builtin-ui")
    with running_warden(settings_for(directory, f"sqlite://{directory}/warden.sqlite", ui_config())) as running:
        yield running


@pytest.fixture
def browser(warden: ThreadedWarden) -> Browser:
    return Browser(warden.public_url)


# --- reading pages -------------------------------------------------------------------------------


class Page(HTMLParser):
    """What a test needs from a page: its forms (with their inputs and buttons), labels, links,
    headings and text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.labels: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.headings: list[str] = []
        self.text = ""
        self._open: tuple[str, dict[str, str]] | None = None  # label, a, h2 being read
        self._buffer = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a["action"], "method": a["method"], "inputs": [], "buttons": []})
        elif tag in ("input", "button") and self.forms:
            self.forms[-1]["inputs" if tag == "input" else "buttons"].append(a)
        elif tag in ("label", "a", "h2"):
            self._open, self._buffer = (tag, a), ""

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[0] == tag:
            name, a = self._open
            text = self._buffer.strip()
            if name == "label":
                self.labels[a["for"]] = text
            elif name == "a":
                self.links[text] = a["href"]
            else:
                self.headings.append(text)
            self._open = None

    def handle_data(self, data: str) -> None:
        self.text += data
        if self._open:
            self._buffer += data

    def form(self, having: str) -> dict[str, Any]:
        found = [f for f in self.forms if any(i.get("name") == having for i in f["inputs"])]
        assert found, f"no form with an input named {having!r}"
        return found[0]


def inputs(form: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {i["name"]: i for i in form["inputs"]}


def fill(form: dict[str, Any], values: dict[str, str], button: str = "method") -> dict[str, str]:
    """The body a browser posts: every input's value, the filled ones, and the clicked button."""
    body = {i["name"]: i.get("value", "") for i in form["inputs"] if i.get("type") != "checkbox"}
    body.update(values)
    clicked = next(b for b in form["buttons"] if b["name"] == button)
    body[clicked["name"]] = clicked["value"]
    return body


def follow(browser: Browser, response: Response, *, limit: int = 5) -> Response:
    """Follows 303s as a browser does (the configured host is rewritten by `Browser.local`)."""
    for _ in range(limit):
        if response.status not in (302, 303):
            return response
        response = browser.get(response.location)
    raise AssertionError(f"more than {limit} redirects: {response}")


def open_page(browser: Browser, path: str) -> tuple[Response, Page]:
    response = follow(browser, browser.get(path))
    assert response.status == 200, response
    assert response.headers["Content-Type"].startswith("text/html")
    return response, Page(response.data.decode())


def submit(browser: Browser, form: dict[str, Any], values: dict[str, str], button: str = "method") -> Response:
    assert form["method"] == "post"
    return browser.post(form["action"], fill(form, values, button))


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def register(browser: Browser, email: str, **traits: str) -> Response:
    _, page = open_page(browser, "/ui/registration")
    return follow(
        browser, submit(browser, page.form("traits.email"), {"traits.email": email, "password": PASSWORD, **traits})
    )


def sign_in(browser: Browser, email: str, password: str = PASSWORD) -> Response:
    _, page = open_page(browser, "/ui/login")
    return submit(browser, page.form("identifier"), {"identifier": email, "password": password})


# --- the flow pages ------------------------------------------------------------------------------


def test_registration_page_is_a_form_for_the_flow_and_signs_you_up(browser: Browser) -> None:
    started = browser.get("/ui/registration")
    assert started.status == 303 and started.location == f"{BASE}self-service/registration/browser", started
    back = browser.get(started.location)
    assert back.status == 303 and back.location.startswith(f"{UI}registration?flow="), back
    shown = browser.get(back.location)
    assert shown.status == 200 and shown.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "frame-ancestors 'none'" in shown.headers["Content-Security-Policy"]
    assert "no-store" in shown.headers["Cache-Control"]

    flow = browser.get(f"/self-service/registration/flows?id={query_param(back.location, 'flow')}", as_json=True).json()
    page = Page(shown.data.decode())
    form = page.form("traits.email")
    assert (form["action"], form["method"]) == (flow["ui"]["action"], "post")
    fields = inputs(form)
    csrf = [v for k, v in browser.cookies.items() if k.startswith("csrf_token_")][0]
    assert fields["csrf_token"]["type"] == "hidden" and fields["csrf_token"]["value"] == csrf
    assert fields["traits.email"]["type"] == "email" and page.labels[fields["traits.email"]["id"]] == "E-Mail"
    assert fields["password"]["type"] == "password" and page.labels[fields["password"]["id"]] == "Password"
    assert page.labels[fields["traits.name.first"]["id"]] == "first", "a trait without a title: its own name"
    assert "value" not in fields["password"]
    assert [(b["name"], b["value"]) for b in form["buttons"]] == [("method", "password")]
    assert page.links["Sign in"] == f"{UI}login"

    email = _email("signup")
    done = submit(browser, form, {"traits.email": email, "password": PASSWORD})
    assert done.status == 303 and done.location == WELCOME, done
    welcome = Page(browser.get(done.location).data.decode())
    assert "You are signed in." in welcome.text and email in welcome.text
    assert welcome.links["Account settings"] == f"{UI}settings"


def test_an_invalid_registration_comes_back_with_messages_and_without_the_password(browser: Browser) -> None:
    _, page = open_page(browser, "/ui/registration")
    back = submit(browser, page.form("traits.email"), {"traits.email": "not-an-email", "password": PASSWORD})
    assert back.status == 303 and back.location.startswith(f"{UI}registration?flow="), back
    response, again = open_page(browser, back.location)
    fields = inputs(again.form("traits.email"))
    assert fields["traits.email"]["value"] == "not-an-email" and fields["traits.email"]["aria-invalid"] == "true"
    assert "is not valid" in again.text
    assert PASSWORD.encode() not in response.data
    assert "value" not in fields["password"]


def test_login_with_a_wrong_password_shows_the_invalid_credentials_message(
    browser: Browser, warden: ThreadedWarden
) -> None:
    email = _email("wrong")
    create_identity(warden.admin_url, email)
    back = sign_in(browser, email, "Not-The-Password-1234")
    assert back.status == 303 and back.location.startswith(f"{UI}login?flow="), back
    response, page = open_page(browser, back.location)
    assert INVALID_CREDENTIALS in page.text
    assert b"Not-The-Password-1234" not in response.data
    fields = inputs(page.form("identifier"))
    assert fields["identifier"]["value"] == email and "value" not in fields["password"]
    assert page.links["Create an account"] == f"{UI}registration"

    done = sign_in(browser, email)
    assert done.status == 303 and done.location == WELCOME, done


def test_a_page_without_a_flow_starts_one_and_keeps_return_to(browser: Browser) -> None:
    started = browser.get(f"/ui/login?return_to={UI}settings&refresh=true&other=x")
    assert started.status == 303
    assert urlsplit(started.location).path == "/self-service/login/browser"
    assert query_param(started.location, "return_to") == f"{UI}settings"
    assert query_param(started.location, "refresh") == "true" and "other" not in started.location


@pytest.mark.parametrize("flow_id", [str(uuid.uuid4()), "not-a-uuid"], ids=["unknown-uuid", "not-a-uuid"])
def test_an_unknown_flow_redirects_to_a_new_one(browser: Browser, flow_id: str) -> None:
    gone = browser.get(f"/ui/login?flow={flow_id}")
    assert gone.status == 303 and gone.location == f"{BASE}self-service/login/browser", gone


def test_another_browsers_flow_redirects_to_a_new_one(browser: Browser, warden: ThreadedWarden) -> None:
    shown = browser.get(browser.get("/ui/registration").location)
    stranger = Browser(warden.public_url)
    refused = stranger.get(shown.location)
    assert refused.status == 303 and refused.location == f"{BASE}self-service/registration/browser", refused


def test_settings_needs_a_session_and_shows_profile_and_password_sections(browser: Browser) -> None:
    start = browser.get("/ui/settings")
    to_login = browser.get(start.location)
    assert to_login.status == 303 and urlsplit(to_login.location).path == "/self-service/login/browser", to_login

    email = _email("settings")
    assert register(browser, email).status == 200
    _, page = open_page(browser, "/ui/settings")
    assert {"Profile", "Password"} <= set(page.headings)
    profile, password = page.form("traits.email"), page.form("password")
    assert profile is not password
    assert inputs(profile)["traits.email"]["value"] == email
    assert "csrf_token" in inputs(password) and "value" not in inputs(password)["password"]
    assert [b["value"] for b in profile["buttons"]] == ["profile"]
    assert "Log out" in page.links

    saved = submit(browser, profile, {"traits.name.first": "Ada"})
    assert saved.status == 303 and saved.location.startswith(f"{UI}settings?flow="), saved
    _, after = open_page(browser, saved.location)
    assert "Your changes have been saved!" in after.text
    assert inputs(after.form("traits.email"))["traits.name.first"]["value"] == "Ada"


def test_logout_from_the_welcome_page_signs_you_out(browser: Browser) -> None:
    register(browser, _email("logout"))
    _, welcome = open_page(browser, "/ui/welcome")
    logout = welcome.links["Log out"]
    assert urlsplit(logout).path == "/self-service/logout" and "token=" in logout
    out = browser.get(logout)
    assert out.status == 303 and out.location == WELCOME, out
    _, after = open_page(browser, out.location)
    assert "You have signed out." in after.text, "the page the browser lands on says so"
    assert "You are not signed in." in after.text and after.links["Sign in"] == f"{UI}login"
    _, again = open_page(browser, out.location)
    assert "You have signed out." not in again.text, "said once"
    assert browser.get("/sessions/whoami", as_json=True).status == 401


def test_a_refresh_login_is_titled_for_it_and_offers_to_log_out(browser: Browser) -> None:
    email = _email("refresh")
    register(browser, email)
    assert browser.get("/ui/login").location == f"{BASE}self-service/login/browser"
    _, page = open_page(browser, "/ui/login?refresh=true")
    assert "Confirm it's you" in page.text and "/self-service/logout?token=" in page.links["Log out"]
    done = sign_in_on(browser, page, email)
    assert done.status == 303 and done.location == WELCOME, done


def sign_in_on(browser: Browser, page: Page, email: str) -> Response:
    return submit(browser, page.form("identifier"), {"identifier": email, "password": PASSWORD})


def test_the_error_page_shows_a_csrf_failure(browser: Browser) -> None:
    _, page = open_page(browser, "/ui/login")
    refused = submit(
        browser, page.form("identifier"), {"identifier": "x@example.com", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert refused.status == 303 and refused.location.startswith(f"{UI}error?id="), refused
    response, error = open_page(browser, refused.location)
    assert CSRF_MESSAGE in error.text and "403 Forbidden" in error.text and "security_csrf_violation" in error.text
    assert "no-store" in response.headers["Cache-Control"]


def test_the_error_page_for_an_unknown_error_is_a_404_page(browser: Browser) -> None:
    missing = browser.get(f"/ui/error?id={uuid.uuid4()}")
    assert missing.status == 404 and missing.headers["Content-Type"].startswith("text/html")
    assert "could not be found" in missing.data.decode()
    stub = browser.get("/ui/error?id=stub:500")
    assert stub.status == 200 and "This is a stub error." in stub.data.decode()


def test_trait_values_are_escaped(browser: Browser) -> None:
    script = "<script>alert(1)</script>"
    welcome = register(browser, _email("xss"), **{"traits.name.first": script})
    assert welcome.status == 200
    html = welcome.data.decode()
    assert script not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert script in Page(html).text

    _, settings = open_page(browser, "/ui/settings")
    assert inputs(settings.form("traits.email"))["traits.name.first"]["value"] == script  # escaped in the attribute


def test_the_stylesheet_is_served(browser: Browser) -> None:
    css = browser.get("/ui/style.css")
    assert css.status == 200 and css.headers["Content-Type"].startswith("text/css") and b"body" in css.data
    _, page = open_page(browser, "/ui/welcome")
    assert page.links["Sign in"] == f"{UI}login"


def test_nodes_are_grouped_like_the_reference_ui() -> None:
    """Pure: the default group joins every method's form (only its hidden nodes join social
    sign-in), script and JavaScript-only nodes are left out, and no password value is echoed."""

    def node(group: str, name: str, kind: str = "text", **attributes: Any) -> dict[str, Any]:
        return {
            "type": "input",
            "group": group,
            "attributes": {"name": name, "type": kind, **attributes},
            "messages": [],
            "meta": {"label": {"id": 1, "text": name.title(), "type": "info"}},
        }

    ui = {
        "action": "x",
        "method": "POST",
        "nodes": [
            node("default", "csrf_token", "hidden", value="t"),
            node("default", "identifier", value="me"),
            node("oidc", "provider", "submit", value="github"),
            node("password", "password", "password", value="secret"),
            node("password", "method", "submit", value="password"),
            node("webauthn", "webauthn_login_trigger", "button", onclick="go()"),
            node("webauthn", "webauthn_login", "hidden"),
            {
                "type": "script",
                "group": "webauthn",
                "attributes": {"src": "x.js", "id": "s"},
                "messages": [],
                "meta": {},
            },
        ],
    }
    found = {s.group: [(f.kind, f.name) for f in s.fields] for s in sections(ui)}
    assert found == {
        "oidc": [("hidden", "csrf_token"), ("submit", "provider")],
        "password": [("hidden", "csrf_token"), ("input", "identifier"), ("input", "password"), ("submit", "method")],
    }
    password = next(f for s in sections(ui) for f in s.fields if f.name == "password")
    assert password.value is None and password.id == "password-password" and password.attrs == {}


def test_a_social_sign_up_s_own_form_carries_the_default_traits() -> None:
    """Pure: a social sign-up that still needs traits has them in `default` beside its Continue button
    alone (Kratos's registration flow then): with no other form to show them, they join the social
    one. Beside a password form, the social button keeps the hidden defaults only."""
    csrf = {"type": "input", "group": "default", "attributes": {"name": "csrf_token", "type": "hidden", "value": "t"}}
    email = {"type": "input", "group": "default", "attributes": {"name": "traits.email", "type": "email"}}
    provider = {"type": "input", "group": "oidc", "attributes": {"name": "provider", "type": "submit", "value": "g"}}
    ui = {"action": "x", "method": "POST", "nodes": [csrf, email, provider]}
    assert [(s.group, [f.name for f in s.fields]) for s in sections(ui)] == [
        ("oidc", ["csrf_token", "traits.email", "provider"])
    ]
    password = {"type": "input", "group": "password", "attributes": {"name": "method", "type": "submit"}}
    ui["nodes"] = [csrf, email, provider, password]
    assert [(s.group, [f.name for f in s.fields]) for s in sections(ui)] == [
        ("oidc", ["csrf_token", "provider"]),
        ("password", ["csrf_token", "traits.email", "method"]),
    ]


def test_the_webauthn_script_is_on_the_page_whichever_group_holds_it() -> None:
    """Pure: Kratos puts the WebAuthn script in the `webauthn` group even for passkeys; a sign-up
    page whose webauthn group has nothing to press still loads it, once, with the first form."""
    script = {"type": "script", "group": "webauthn", "attributes": {"src": "/.well-known/ory/webauthn.js", "id": "s"}}
    trigger = {"name": "passkey_register_trigger", "type": "button", "onclickTrigger": "oryPasskeyRegistration"}
    ui = {
        "action": "x",
        "method": "POST",
        "nodes": [
            {"type": "input", "group": "default", "attributes": {"name": "traits.email", "type": "email"}},
            {"type": "input", "group": "password", "attributes": {"name": "method", "type": "submit"}},
            {"type": "input", "group": "passkey", "attributes": trigger},
            script,
        ],
    }
    found = [(s.group, [f.kind for f in s.fields if f.kind == "script"]) for s in sections(ui)]
    assert found == [("password", ["script"]), ("passkey", [])]


@pytest.mark.parametrize("path", ["/", "/ui", "/ui/"])
def test_the_root_and_ui_urls_lead_to_the_sign_in_page(browser: Browser, path: str) -> None:
    response = browser.get(path)
    assert response.status == 303 and response.location == f"{UI}login", response


def test_the_sign_in_page_after_signing_out_says_so_once(browser: Browser) -> None:
    register(browser, _email("signed-out"))
    _, welcome = open_page(browser, "/ui/welcome")
    assert browser.get(welcome.links["Log out"]).status == 303
    _, login = open_page(browser, "/ui/login")
    assert "You have signed out." in login.text
    _, again = open_page(browser, "/ui/login")
    assert "You have signed out." not in again.text
