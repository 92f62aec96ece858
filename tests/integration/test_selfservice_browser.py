"""Browser self-service flows as a browser drives them, on SQLite and PostgreSQL: cookies kept,
redirects returned and never followed, forms posted url-encoded; and as a SPA does (JSON).

One Warden per database serves the module; each test has its own browser and identities."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import (
    CONFIGURED_BASE,
    ERROR_UI,
    LOGOUT_RETURN_URL,
    PASSWORD,
    RETURN_URL,
    SESSION_LIFESPAN_SECONDS,
    UI,
    Browser,
    Response,
    create_identity,
    database,
    message_ids,
    node,
    query_param,
    selfservice_settings,
    sqlite_selfservice_settings,
)

CSRF_COOKIE = "csrf_token_" + hashlib.sha256(f"{CONFIGURED_BASE}/".encode()).hexdigest()
SESSION_COOKIE = "ory_kratos_session"
ALLOWED_RETURN = f"{UI}/app/dashboard"  # under selfservice.allowed_return_urls
OFF_SITE = "https://evil.example/steal"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def warden(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("browser")
    with database(request.param, directory) as dsn, running_warden(selfservice_settings(directory, dsn)) as running:
        yield running


@pytest.fixture
def browser(warden: ThreadedWarden) -> Browser:
    return Browser(warden.public_url)


@pytest.fixture
def spa(warden: ThreadedWarden) -> Browser:
    return Browser(warden.public_url, json=True)


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _start(browser: Browser, kind: str, query: str = "") -> dict[str, Any]:
    """Init a browser flow the way a server-rendered UI does, then fetch the flow it was sent to."""
    started = browser.get(f"/self-service/{kind}/browser{query}")
    assert started.status == 303, started
    assert started.location.startswith(f"{UI}/{kind}?flow="), started.location
    fetched = browser.get(f"/self-service/{kind}/flows?id={query_param(started.location, 'flow')}", as_json=True)
    assert fetched.status == 200, fetched
    return fetched.json()


def _csrf(flow: dict[str, Any]) -> str:
    return str(node(flow, "csrf_token")["attributes"]["value"])


def _registration_form(flow: dict[str, Any], email: str, password: str = PASSWORD) -> dict[str, str]:
    return {"traits.email": email, "password": password, "method": "password", "csrf_token": _csrf(flow)}


def _login_form(flow: dict[str, Any], email: str, password: str = PASSWORD) -> dict[str, str]:
    return {"identifier": email, "password": password, "method": "password", "csrf_token": _csrf(flow)}


def _whoami(browser: Browser) -> Response:
    return browser.get("/sessions/whoami", as_json=True)


def _signed_in(browser: Browser, warden: ThreadedWarden, email: str) -> None:
    create_identity(warden.admin_url, email)
    flow = _start(browser, "login")
    assert browser.post(flow["ui"]["action"], _login_form(flow, email)).status == 303
    assert SESSION_COOKIE in browser.cookies


def _stored_error(browser: Browser, response: Response) -> dict[str, Any]:
    """A browser sent to the error UI: the error it was sent with."""
    assert response.status == 303 and response.location.startswith(f"{ERROR_UI}?id="), response
    fetched = browser.get(f"/self-service/errors?id={query_param(response.location, 'id')}", as_json=True)
    assert fetched.status == 200, fetched
    return fetched.json()["error"]


# --- registration ------------------------------------------------------------------------------


def test_registration_init_redirects_to_the_ui_and_sets_the_csrf_cookie(browser: Browser) -> None:
    started = browser.get("/self-service/registration/browser")
    assert started.status == 303 and started.location.startswith(f"{UI}/registration?flow=")
    cookie = started.set_cookies[CSRF_COOKIE]
    assert cookie["httponly"] is True and cookie["samesite"] == "Lax" and cookie["path"] == "/"
    assert not cookie["secure"], "no Secure in dev"

    flow_url = f"/self-service/registration/flows?id={query_param(started.location, 'flow')}"
    fetched = browser.get(flow_url, as_json=True)
    assert fetched.status == 200
    flow = fetched.json()
    assert flow["type"] == "browser" and flow["id"] == query_param(started.location, "flow")
    csrf = node(flow, "csrf_token")
    assert (csrf["group"], csrf["attributes"]["type"]) == ("default", "hidden")
    assert csrf["attributes"]["value"] == browser.cookies[CSRF_COOKIE]

    refused = browser.get(flow_url, cookies=False, as_json=True)
    assert refused.status == 403 and refused.json()["error"]["id"] == "security_csrf_violation"


def test_fetching_a_browser_flow_without_its_cookie_is_403_json_whatever_the_accept_header(browser: Browser) -> None:
    """Kratos's `getRegistrationFlow`/`getLoginFlow` write every error with `h.d.Writer()`: JSON,
    never a redirect to the error UI, whatever the client accepts."""
    started = browser.get("/self-service/registration/browser")
    refused = browser.get(f"/self-service/registration/flows?id={query_param(started.location, 'flow')}", cookies=False)
    assert refused.status == 403, refused
    assert refused.json()["error"]["id"] == "security_csrf_violation"


def test_registration_form_post_signs_in_with_a_session_cookie(browser: Browser) -> None:
    email = _email("form")
    flow = _start(browser, "registration")
    done = browser.post(flow["ui"]["action"], _registration_form(flow, email))
    assert done.status == 303 and done.location == RETURN_URL
    cookie = done.set_cookies[SESSION_COOKIE]
    assert cookie["httponly"] is True and cookie["samesite"] == "Lax" and cookie["path"] == "/"
    assert not cookie["secure"], "no Secure in dev"
    assert SESSION_LIFESPAN_SECONDS - 60 <= int(cookie["max-age"]) <= SESSION_LIFESPAN_SECONDS
    whoami = _whoami(browser)
    assert whoami.status == 200 and whoami.json()["identity"]["traits"] == {"email": email}
    # Expires as well, as Kratos sends it: the session's own expiry, for clients that read no Max-Age.
    expires = parsedate_to_datetime(cookie["expires"]).timestamp()
    assert abs(expires - datetime.fromisoformat(whoami.json()["expires_at"].replace("Z", "+00:00")).timestamp()) < 1
    assert whoami.json()["authentication_methods"][0]["method"] == "password"


def test_cookies_are_secure_outside_dev(tmp_path: Path, any_dsn: str) -> None:
    with running_warden(selfservice_settings(tmp_path, any_dsn, dev=False)) as warden:
        browser = Browser(warden.public_url)
        started = browser.get("/self-service/registration/browser")
        assert started.status == 303 and started.set_cookies[CSRF_COOKIE]["secure"] is True
        flow = _start(browser, "registration")
        done = browser.post(flow["ui"]["action"], _registration_form(flow, _email("secure")))
        assert done.status == 303, done
        cookie = done.set_cookies[SESSION_COOKIE]
        assert cookie["secure"] is True and cookie["httponly"] is True and cookie["samesite"] == "Lax"


def test_a_disabled_registration_is_refused_in_kratoss_words(tmp_path: Path) -> None:
    """`selfservice.flows.registration.enabled: false`: Kratos's ErrRegistrationDisabled (UIs match
    its reason) for an app, a SPA and a browser (on the error UI), and for reading a flow too."""
    expected = {
        "id": "self_service_flow_disabled",
        "code": 400,
        "message": "registration flow disabled",
        "reason": "Registration is not allowed because it was disabled.",
    }
    settings = sqlite_selfservice_settings(tmp_path, flows={"registration": {"enabled": False}})
    with running_warden(settings) as warden:
        browser, spa = Browser(warden.public_url), Browser(warden.public_url, json=True)
        refused = [
            spa.get("/self-service/registration/api"),
            spa.get("/self-service/registration/browser"),
            spa.get(f"/self-service/registration/flows?id={uuid.uuid4()}"),
        ]
        for answer in refused:
            assert answer.status == 400, answer
            assert {k: answer.json()["error"].get(k) for k in expected} == expected, answer.json()
        stored = _stored_error(browser, browser.get("/self-service/registration/browser"))
        assert {k: stored.get(k) for k in expected} == expected, stored


def test_a_forged_or_missing_csrf_token_is_refused(browser: Browser) -> None:
    flow = _start(browser, "registration")
    forged = {**_registration_form(flow, _email("forged")), "csrf_token": "x" * 43}
    as_json = browser.post(flow["ui"]["action"], forged, as_json=True)
    assert as_json.status == 403 and as_json.json()["error"]["id"] == "security_csrf_violation"

    error = _stored_error(browser, browser.post(flow["ui"]["action"], forged))
    assert error["id"] == "security_csrf_violation" and error["code"] == 403
    missing = {k: v for k, v in _registration_form(flow, _email("missing")).items() if k != "csrf_token"}
    assert _stored_error(browser, browser.post(flow["ui"]["action"], missing))["id"] == "security_csrf_violation"
    no_cookie = browser.post(flow["ui"]["action"], _registration_form(flow, _email("nocookie")), cookies=False)
    assert _stored_error(browser, no_cookie)["id"] == "security_csrf_violation"
    assert _whoami(browser).status == 401, "nothing was signed in"


def test_invalid_form_data_goes_back_to_the_ui_with_messages_and_no_password(browser: Browser) -> None:
    flow = _start(browser, "registration")
    back = browser.post(flow["ui"]["action"], _registration_form(flow, "not-an-email"))
    assert back.status == 303 and back.location == f"{UI}/registration?flow={flow['id']}"
    fetched = browser.get(f"/self-service/registration/flows?id={flow['id']}", as_json=True).json()
    assert node(fetched, "traits.email")["messages"], "the email node says what is wrong"
    assert node(fetched, "traits.email")["attributes"]["value"] == "not-an-email"
    assert all(
        not n["attributes"].get("value") for n in fetched["ui"]["nodes"] if n["attributes"].get("type") == "password"
    )
    assert PASSWORD not in json.dumps(fetched)

    short = browser.post(flow["ui"]["action"], _registration_form(flow, _email("short"), "tiny-pw"))
    assert short.status == 303
    fetched = browser.get(f"/self-service/registration/flows?id={flow['id']}", as_json=True).json()
    assert message_ids(fetched, "password") == [4000032] and "tiny-pw" not in json.dumps(fetched)


def test_spa_registration_gets_json_and_a_session_cookie(spa: Browser) -> None:
    started = spa.get("/self-service/registration/browser")
    assert started.status == 200 and CSRF_COOKIE in started.set_cookies
    flow = started.json()
    assert flow["type"] == "browser" and _csrf(flow) == spa.cookies[CSRF_COOKIE]
    email = _email("spa")
    body = {"traits": {"email": email}, "password": PASSWORD, "method": "password", "csrf_token": _csrf(flow)}
    done = spa.post(flow["ui"]["action"], body)
    assert done.status == 200, done
    body = done.json()
    assert (
        body["identity"]["traits"] == {"email": email} and body["session"]["identity"]["id"] == body["identity"]["id"]
    )
    assert "session_token" not in body, "browsers get a cookie, not a token"
    assert body["continue_with"] == [{"action": "redirect_browser_to", "redirect_browser_to": RETURN_URL}]
    assert SESSION_COOKIE in done.set_cookies
    assert _whoami(spa).json()["id"] == body["session"]["id"]


def test_spa_json_bodies_may_use_the_form_field_names(spa: Browser) -> None:
    """Kratos decodes JSON submissions with `decoderx.HTTPDecoderJSONFollowsFormFormat()`:
    `{"traits.email": "…"}` is read as `{"traits": {"email": "…"}}`, so a SPA can post its form's
    node names as JSON (Ory's SPA UIs do)."""
    flow = spa.get("/self-service/registration/browser").json()
    email = _email("flat")
    done = spa.post(flow["ui"]["action"], _registration_form(flow, email))
    assert done.status == 200, done
    assert done.json()["identity"]["traits"] == {"email": email}


# --- login -------------------------------------------------------------------------------------


def test_login_form_post_signs_in(browser: Browser, warden: ThreadedWarden) -> None:
    email = _email("login")
    identity_id = create_identity(warden.admin_url, email)
    flow = _start(browser, "login")
    assert flow["type"] == "browser" and {"identifier", "password", "csrf_token"} <= {
        n["attributes"]["name"] for n in flow["ui"]["nodes"]
    }
    done = browser.post(flow["ui"]["action"], _login_form(flow, email.upper()))
    assert done.status == 303 and done.location == RETURN_URL
    assert done.set_cookies[SESSION_COOKIE]["httponly"] is True
    assert _whoami(browser).json()["identity"]["id"] == identity_id


def test_finding_13_the_csrf_cookie_is_rotated_at_login(browser: Browser, warden: ThreadedWarden) -> None:
    """Review finding 13: a CSRF token planted in (or read from) the browser before sign-in must not
    outlive it; Kratos regenerates it whenever it issues a session cookie."""
    email = _email("rotate")
    create_identity(warden.admin_url, email)
    flow = _start(browser, "login")
    before = browser.cookies[CSRF_COOKIE]
    done = browser.post(flow["ui"]["action"], _login_form(flow, email))
    assert done.status == 303 and SESSION_COOKIE in done.set_cookies
    after = done.set_cookies[CSRF_COOKIE]
    assert after.value != before and len(after.value) >= 32 and after["httponly"] is True
    # Flows made after sign-in carry the new token; the old one is refused.
    settings = browser.get("/self-service/settings/browser", as_json=True).json()
    assert _csrf(settings) == after.value
    stale = browser.post(settings["ui"]["action"], {"method": "profile", "traits.email": email, "csrf_token": before})
    assert _stored_error(browser, stale)["id"] == "security_csrf_violation"


def test_login_with_a_wrong_password_goes_back_to_the_ui(browser: Browser, warden: ThreadedWarden) -> None:
    email = _email("wrong")
    create_identity(warden.admin_url, email)
    flow = _start(browser, "login")
    back = browser.post(flow["ui"]["action"], _login_form(flow, email, PASSWORD + "!"))
    assert back.status == 303 and back.location == f"{UI}/login?flow={flow['id']}"
    assert SESSION_COOKIE not in back.set_cookies
    fetched = browser.get(f"/self-service/login/flows?id={flow['id']}", as_json=True).json()
    assert message_ids(fetched) == [4000006] and node(fetched, "identifier")["attributes"]["value"] == email
    assert PASSWORD not in json.dumps(fetched)


def test_spa_login_gets_the_session_and_where_to_go(spa: Browser, warden: ThreadedWarden) -> None:
    email = _email("spa-login")
    identity_id = create_identity(warden.admin_url, email)
    started = spa.get("/self-service/login/browser")
    assert started.status == 200 and CSRF_COOKIE in started.set_cookies
    done = spa.post(started.json()["ui"]["action"], _login_form(started.json(), email))
    assert done.status == 200, done
    body = done.json()
    assert body["session"]["identity"]["id"] == identity_id and "session_token" not in body
    assert body["continue_with"] == [{"action": "redirect_browser_to", "redirect_browser_to": RETURN_URL}]
    assert SESSION_COOKIE in done.set_cookies and _whoami(spa).status == 200


def test_an_allowed_return_to_is_honoured(browser: Browser, warden: ThreadedWarden) -> None:
    email = _email("return")
    create_identity(warden.admin_url, email)
    flow = _start(browser, "login", f"?return_to={ALLOWED_RETURN}")
    assert flow["return_to"] == ALLOWED_RETURN
    done = browser.post(flow["ui"]["action"], _login_form(flow, email))
    assert done.status == 303 and done.location == ALLOWED_RETURN


def test_a_return_to_off_the_list_is_refused_and_never_followed(browser: Browser, spa: Browser) -> None:
    for kind in ("login", "registration"):
        refused = spa.get(f"/self-service/{kind}/browser?return_to={OFF_SITE}")
        assert refused.status == 400 and refused.json()["error"]["id"] == "self_service_flow_return_to_forbidden"
        sent = browser.get(f"/self-service/{kind}/browser?return_to={OFF_SITE}")
        assert "evil.example" not in sent.location.split("?")[0]
        assert _stored_error(browser, sent)["id"] == "self_service_flow_return_to_forbidden"


def test_a_signed_in_browser_is_sent_on_and_json_is_refused(browser: Browser, warden: ThreadedWarden) -> None:
    _signed_in(browser, warden, _email("already"))
    again = browser.get("/self-service/login/browser")
    assert again.status == 303 and again.location == RETURN_URL
    as_json = browser.get("/self-service/login/browser", as_json=True)
    assert as_json.status == 400 and as_json.json()["error"]["id"] == "session_already_available"
    registration = browser.get("/self-service/registration/browser", as_json=True)
    assert registration.status == 400 and registration.json()["error"]["id"] == "session_already_available"


def test_a_login_form_posted_once_signed_in_goes_on_as_kratos_sends_it(
    browser: Browser, warden: ThreadedWarden
) -> None:
    """Kratos's `updateLoginFlow` looks for a session before the CSRF token and the expiry: a form
    of a flow opened before signing in (another tab) takes the browser to the default return URL;
    a SPA is told 400 session_already_available."""
    email = _email("second-tab")
    create_identity(warden.admin_url, email)
    first, second, third = (_start(browser, "login", f"?return_to={ALLOWED_RETURN}") for _ in range(3))
    assert browser.post(first["ui"]["action"], _login_form(first, email)).status == 303
    again = browser.post(second["ui"]["action"], _login_form(second, email))
    assert again.status == 303 and again.location == RETURN_URL, again
    as_json = browser.post(third["ui"]["action"], _login_form(third, email), as_json=True)
    assert as_json.status == 400 and as_json.json()["error"]["id"] == "session_already_available", as_json
    assert _whoami(browser).status == 200


def test_a_registration_form_posted_once_signed_in_creates_nothing(browser: Browser, warden: ThreadedWarden) -> None:
    """As for login: a registration form of a tab opened before signing in takes the browser to the
    default return URL, a SPA is told 400 session_already_available; no second account either way."""
    first, second = (_start(browser, "registration") for _ in range(2))
    _signed_in(browser, warden, _email("signed-in"))
    other = _email("other")
    again = browser.post(first["ui"]["action"], _registration_form(first, other))
    assert again.status == 303 and again.location == RETURN_URL, again
    as_json = browser.post(second["ui"]["action"], _registration_form(second, other), as_json=True)
    assert as_json.status == 400 and as_json.json()["error"]["id"] == "session_already_available", as_json
    admin = urllib3.request("GET", f"{warden.admin_url}/admin/identities?credentials_identifier={other}")
    assert admin.status == 200 and json.loads(admin.data) == [], "no second account"


def test_settings_sends_the_browser_where_settings_after_says(tmp_path: Path) -> None:
    """Kratos's order: the flow's return_to, `settings.after.<method>`, `settings.after`, then the UI."""
    after = {
        "default_browser_return_url": f"{UI}/app/saved",
        "password": {"default_browser_return_url": f"{UI}/app/password-changed"},
    }
    config = sqlite_selfservice_settings(tmp_path, flows={"settings": {"ui_url": f"{UI}/settings", "after": after}})
    with running_warden(config) as warden:
        browser = Browser(warden.public_url)
        email = _email("after-settings")
        _signed_in(browser, warden, email)
        forms = {"profile": {"traits.email": email}, "password": {"password": "Harbor-Violet-Compass-9362"}}
        for method, expected in (("profile", f"{UI}/app/saved"), ("password", f"{UI}/app/password-changed")):
            flow = browser.get("/self-service/settings/browser", as_json=True).json()
            done = browser.post(flow["ui"]["action"], {"method": method, **forms[method], "csrf_token": _csrf(flow)})
            assert done.status == 303 and done.location == expected, (method, done)
        flow = _start(browser, "settings", f"?return_to={ALLOWED_RETURN}")
        done = browser.post(
            flow["ui"]["action"], {"method": "profile", "traits.email": email, "csrf_token": _csrf(flow)}
        )
        assert done.status == 303 and done.location == ALLOWED_RETURN, done


def test_a_spa_that_saved_settings_is_told_where_the_browser_goes(browser: Browser, warden: ThreadedWarden) -> None:
    """Kratos's settings hook answers a browser flow asked for JSON with the saved flow and, last in
    `continue_with`, `redirect_browser_to` where a form post would have been sent: the flow's
    return_to, else the settings UI showing the flow. The item is not kept with the flow."""
    email = _email("spa-settings")
    _signed_in(browser, warden, email)
    for query, expected in (("", None), (f"?return_to={ALLOWED_RETURN}", ALLOWED_RETURN)):
        flow = browser.get(f"/self-service/settings/browser{query}", as_json=True).json()
        body = {"method": "profile", "traits": {"email": email}, "csrf_token": _csrf(flow)}
        done = browser.post(flow["ui"]["action"], body, as_json=True)
        assert done.status == 200 and done.json()["state"] == "success", done
        where = expected or f"{CONFIGURED_BASE}/ui/settings?flow={flow['id']}"  # the default settings UI
        assert done.json()["continue_with"] == [{"action": "redirect_browser_to", "redirect_browser_to": where}]
        stored = browser.get(f"/self-service/settings/flows?id={flow['id']}", as_json=True).json()
        assert "continue_with" not in stored


def test_a_settings_page_without_a_session_goes_to_the_login_ui(browser: Browser, warden: ThreadedWarden) -> None:
    """Kratos guards the settings submit and fetch routes with `IsAuthenticated`: a browser page
    whose session is gone (signed out in another tab, expired) is sent to the login UI with a 302,
    JSON gets 401, whatever the flow."""
    email = _email("settings-signed-out")
    _signed_in(browser, warden, email)
    flow = browser.get("/self-service/settings/browser", as_json=True).json()
    del browser.cookies[SESSION_COOKIE]
    form = {"method": "profile", "traits.email": email, "csrf_token": _csrf(flow)}
    for sent in (
        browser.post(flow["ui"]["action"], form),
        browser.get(f"/self-service/settings?flow={flow['id']}"),
        browser.get(f"/self-service/settings/flows?id={flow['id']}"),
    ):
        assert sent.status == 302 and sent.location == f"{UI}/login", sent
    for answered in (
        browser.post(flow["ui"]["action"], form, as_json=True),
        browser.get(f"/self-service/settings/flows?id={flow['id']}", as_json=True),
    ):
        assert answered.status == 401 and answered.json()["error"]["id"] == "session_inactive", answered


# --- logout ------------------------------------------------------------------------------------


def test_logout_url_ends_the_session_and_clears_the_cookie(browser: Browser, warden: ThreadedWarden) -> None:
    _signed_in(browser, warden, _email("logout"))
    created = browser.get("/self-service/logout/browser", as_json=True)
    assert created.status == 200
    logout = created.json()
    assert logout["logout_url"] == f"{CONFIGURED_BASE}/self-service/logout?token={logout['logout_token']}"
    session_cookie = browser.cookies[SESSION_COOKIE]

    done = browser.get(logout["logout_url"])
    assert done.status == 303 and done.location == LOGOUT_RETURN_URL
    assert done.set_cookies[SESSION_COOKIE]["max-age"] == "0" and SESSION_COOKIE not in browser.cookies
    assert "Clear-Site-Data" not in done.headers  # clear_browser_data is off by default
    assert _whoami(browser).status == 401
    browser.cookies[SESSION_COOKIE] = session_cookie  # a copy kept from before does not work either
    assert _whoami(browser).status == 401


def test_logout_gives_the_browser_a_new_csrf_token(browser: Browser, warden: ThreadedWarden) -> None:
    """Kratos's `completeLogout` regenerates the CSRF token, as a sign-in does: a form opened while
    signed in is worth nothing once the browser has signed out."""
    for as_json in (False, True):
        _signed_in(browser, warden, _email("logout-csrf"))
        before = browser.cookies[CSRF_COOKIE]
        logout = browser.get("/self-service/logout/browser", as_json=True).json()
        done = browser.get(logout["logout_url"], as_json=as_json)
        assert done.status == (204 if as_json else 303), done
        assert CSRF_COOKIE in done.set_cookies and browser.cookies[CSRF_COOKIE] != before


def test_logout_clears_the_browsers_data_when_the_config_asks(tmp_path: Path) -> None:
    settings = sqlite_selfservice_settings(tmp_path, flows={"logout": {"clear_browser_data": True}})
    with running_warden(settings) as warden:
        for as_json in (False, True):
            browser = Browser(warden.public_url)
            _signed_in(browser, warden, _email("clear"))
            logout = browser.get("/self-service/logout/browser", as_json=True).json()
            done = browser.get(logout["logout_url"], as_json=as_json)
            assert done.status == (204 if as_json else 303)
            assert done.headers["Clear-Site-Data"] == '"cache", "cookies", "storage"'


def test_a_wrong_logout_token_is_forbidden(browser: Browser, warden: ThreadedWarden) -> None:
    _signed_in(browser, warden, _email("wrong-logout"))
    logout = browser.get("/self-service/logout/browser", as_json=True).json()
    wrong = logout["logout_url"].replace(logout["logout_token"], logout["logout_token"][:-4] + "AAAA")
    as_json = browser.get(wrong, as_json=True)
    assert as_json.status == 403, as_json
    assert _stored_error(browser, browser.get(wrong))["code"] == 403
    assert _whoami(browser).status == 200, "the session lives on"


def test_a_forbidden_return_to_still_ends_the_session(browser: Browser, warden: ThreadedWarden) -> None:
    """Kratos's `updateLogoutFlow` purges the session and only then checks return_to: the browser is
    signed out, with a new CSRF token, and is shown the refusal."""
    for as_json in (True, False):
        _signed_in(browser, warden, _email("logout-off-site"))
        before = browser.cookies[CSRF_COOKIE]
        logout = browser.get("/self-service/logout/browser", as_json=True).json()
        refused = browser.get(f"{logout['logout_url']}&return_to={OFF_SITE}", as_json=as_json)
        error = refused.json()["error"] if as_json else _stored_error(browser, refused)
        assert error["id"] == "self_service_flow_return_to_forbidden", refused
        assert refused.set_cookies[SESSION_COOKIE]["max-age"] == "0" and SESSION_COOKIE not in browser.cookies
        assert browser.cookies[CSRF_COOKIE] != before
        assert _whoami(browser).status == 401, "the session was ended before return_to was looked at"


def test_logout_without_a_session_is_401(browser: Browser) -> None:
    """Kratos's ErrNoActiveSessionFound, for the logout URL and for the logout itself (Kratos does
    not answer a logout of no session as a success): 401 `session_inactive` for JSON clients, the
    error UI for a browser."""
    refused = browser.get("/self-service/logout/browser", as_json=True)
    assert refused.status == 401
    assert refused.json()["error"]["id"] == "session_inactive", refused
    assert refused.json()["error"]["message"] == "request does not have a valid authentication session"
    assert _stored_error(browser, browser.get("/self-service/logout/browser"))["id"] == "session_inactive"
    token = "ory_lo_" + "A" * 43
    logout = browser.get(f"/self-service/logout?token={token}", as_json=True)
    assert logout.status == 401 and logout.json()["error"]["id"] == "session_inactive", logout
    sent = browser.get(f"/self-service/logout?token={token}")
    assert _stored_error(browser, sent)["id"] == "session_inactive"
