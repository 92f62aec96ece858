"""Findings of the review of the browser-facing surface (UI, CORS, headers, cookies, gateway) that
show at the HTTP edge of a real Warden: one test per finding, named after it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden, settings_for
from tests.integration.test_builtin_ui import ui_config
from tests.selfservice_helpers import PASSWORD, Browser, Response, node

# What Kratos's router puts on every GET (`oryx/httprouterx`): no cache, shared or private, keeps it.
NO_STORE = "no-store"


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory: Path = tmp_path_factory.mktemp("browser-surface")
    with running_warden(settings_for(directory, f"sqlite://{directory}/warden.sqlite", ui_config())) as running:
        yield running


def _uncacheable(response: Response | urllib3.BaseHTTPResponse, what: str) -> None:
    assert NO_STORE in response.headers.get("Cache-Control", ""), f"{what} may be cached: {response.headers}"


def test_responses_carrying_flows_csrf_tokens_or_sessions_are_never_cached(warden: ThreadedWarden) -> None:
    """A shared cache (a CDN or corporate proxy in front of Warden) must not keep a flow with its CSRF
    token, a session token, a logout token or someone's traits, and hand them to the next caller."""
    spa = Browser(warden.public_url, json=True)
    started = spa.get("/self-service/registration/browser")  # the flow, its CSRF token and cookie
    _uncacheable(started, "a browser flow with its CSRF token")
    flow = started.json()
    _uncacheable(spa.get(f"/self-service/registration/flows?id={flow['id']}"), "a flow fetched by id")
    registered = spa.post(
        flow["ui"]["action"],
        {
            "method": "password",
            "password": PASSWORD,
            "traits.email": "cache@example.com",
            "csrf_token": node(flow, "csrf_token")["attributes"]["value"],
        },
    )
    assert registered.status == 200, registered
    _uncacheable(registered, "the registration's session")
    _uncacheable(spa.get("/self-service/settings/browser"), "a settings flow with the identity's traits")
    _uncacheable(spa.get("/self-service/logout/browser"), "a logout URL with its token")
    _uncacheable(spa.get("/sessions"), "the list of the caller's sessions")

    html = Browser(warden.public_url)
    _uncacheable(html.get("/self-service/login/browser"), "a redirect setting the CSRF cookie")
    _uncacheable(html.get("/sessions/whoami"), "whoami's 401")

    api = Browser(warden.public_url, json=True)
    login = api.get("/self-service/login/api")
    _uncacheable(login, "an API flow")
    signed_in = api.post(
        login.json()["ui"]["action"], {"method": "password", "identifier": "cache@example.com", "password": PASSWORD}
    )
    assert signed_in.status == 200, signed_in
    _uncacheable(signed_in, "a session token")

    identities = urllib3.request("GET", f"{warden.admin_url}/admin/identities")
    _uncacheable(identities, "the admin API's identities")


def _browser_sign_up(warden: ThreadedWarden, email: str) -> tuple[Response, Response]:
    """The answers that set the CSRF cookie (a new browser flow) and the session cookie (its submission)."""
    spa = Browser(warden.public_url, json=True)
    started = spa.get("/self-service/registration/browser")
    flow = started.json()
    body = {
        "method": "password",
        "password": PASSWORD,
        "traits.email": email,
        "csrf_token": node(flow, "csrf_token")["attributes"]["value"],
    }
    registered = spa.post(flow["ui"]["action"], body)
    assert registered.status == 200, registered
    return started, registered


def test_cookies_secure_and_same_site_apply_to_the_csrf_cookie_as_in_kratos(tmp_path: Path) -> None:
    """`cookies.secure: "true"` must make the CSRF and session cookies Secure even in dev mode (it was
    ignored: both went out without `Secure`), and `session.cookie.same_site: None` is the session
    cookie's alone: the CSRF cookie keeps `cookies.same_site` (it took the session cookie's)."""
    config = ui_config()
    config["cookies"] = {"secure": "true", "same_site": "Strict"}
    config["session"] = {"cookie": {"same_site": "None"}}
    with running_warden(settings_for(tmp_path, f"sqlite://{tmp_path}/warden.sqlite", config)) as warden:
        started, registered = _browser_sign_up(warden, "secure-cookies@example.com")
    csrf = next(m for name, m in started.set_cookies.items() if name.startswith("csrf_token_"))
    assert (csrf["secure"], csrf["samesite"]) == (True, "Strict")
    session = registered.set_cookies["ory_kratos_session"]
    assert (session["secure"], session["samesite"]) == (True, "None")


@pytest.mark.parametrize(
    "query",
    [
        "return_to=https://evil.example/Your account is locked. Call %2B1-555-0100 now",
        "aal=Your account is locked. Call %2B1-555-0100 now",
    ],
)
def test_an_error_page_does_not_show_a_sentence_an_attacker_wrote_into_a_link(
    warden: ThreadedWarden, query: str
) -> None:
    """A link to Warden's own origin with text in `return_to` (or `aal`) led to its error page saying
    that text, word for word: a phishing message on the trusted domain. The value is still shown, but
    percent-encoded (as Kratos prints a URL), so it never reads as a sentence."""
    browser = Browser(warden.public_url)
    started = browser.get(f"/self-service/login/browser?{query}")
    assert started.status == 303 and "/ui/error?id=" in started.location, started
    page = browser.get(started.location)
    assert page.status == 200
    assert b"Your account is locked" not in page.data
    stored = browser.get(started.location.replace("/ui/error", "/self-service/errors"), as_json=True)
    assert stored.status == 200
    assert "Your account is locked" not in stored.json()["error"]["reason"]
    # aal is lowercased first, as Kratos does
    assert "your%20account%20is%20locked" in stored.json()["error"]["reason"].lower()


def test_a_web_page_cannot_make_a_browser_write_to_the_admin_api(warden: ThreadedWarden) -> None:
    """The admin API has no authentication (it must not be reachable from outside) and reads a JSON
    body whatever its Content-Type: any web page an operator opened could make the operator's
    browser, which reaches the admin port, POST `text/plain` JSON to it (a "simple" request, sent
    without a CORS preflight) and create an identity with a password of the page's choosing. The
    browser says such a request is another site's (`Sec-Fetch-Site`): the admin port refuses it."""
    body = json.dumps(
        {
            "schema_id": "default",
            "traits": {"email": "planted@example.com"},
            "credentials": {"password": {"config": {"password": "Chosen-by-the-attacker-91"}}},
        }
    )
    from_a_page = {
        "Content-Type": "text/plain;charset=UTF-8",
        "Origin": "https://evil.example",
        "Sec-Fetch-Site": "cross-site",
        "Sec-Fetch-Mode": "no-cors",
    }
    refused = urllib3.request("POST", f"{warden.admin_url}/admin/identities", body=body, headers=from_a_page)
    assert refused.status == 403, refused.data
    assert refused.json()["error"]["code"] == 403
    listed = urllib3.request("GET", f"{warden.admin_url}/admin/identities?credentials_identifier=planted@example.com")
    assert listed.json() == []

    # The admin's own tools (SDKs, curl) and a page served from the admin origin itself still write.
    for headers in ({"Content-Type": "application/json"}, {"Sec-Fetch-Site": "same-origin", "Origin": "http://x"}):
        created = urllib3.request("POST", f"{warden.admin_url}/admin/identities", body=body, headers=headers)
        assert created.status == 201, created.data
        urllib3.request("DELETE", f"{warden.admin_url}/admin/identities/{created.json()['id']}")


def test_a_page_whose_name_was_rebound_to_the_admin_port_gets_no_answer(tmp_path: Path) -> None:
    """DNS rebinding: a page of evil.example, its name then made to resolve to 127.0.0.1, is to the
    browser of the same origin as the admin port, so it could list every identity and create one of
    its own. Its requests carry `Host: evil.example` and `Sec-Fetch-Site: same-origin`; the admin
    port answers a page only on an IP address, localhost, or the host of `serve.admin.base_url`."""
    config = ui_config()
    config["serve"] = {**config.get("serve", {}), "admin": {"base_url": "http://console.internal:4434/"}}
    with running_warden(settings_for(tmp_path, f"sqlite://{tmp_path}/warden.sqlite", config)) as warden:
        port = warden.admin_url.rsplit(":", 1)[1]
        url = f"{warden.admin_url}/admin/identities"

        def identity(email: str) -> str:
            traits = {"email": email}
            return json.dumps({"schema_id": "default", "traits": traits})

        def page_of(host: str) -> dict[str, str]:
            return {"Host": host, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}

        for host in (f"evil.example:{port}", "evil.example", f"localhost.evil.example:{port}"):
            listed = urllib3.request("GET", url, headers=page_of(host))
            assert listed.status == 403, (host, listed.data)
            assert listed.json()["error"]["code"] == 403
            created = urllib3.request("POST", url, body=identity("planted@example.com"), headers=page_of(host))
            assert created.status == 403, (host, created.data)
        assert urllib3.request("GET", f"{url}?credentials_identifier=planted@example.com").json() == []

        for n, host in enumerate(
            (f"127.0.0.1:{port}", f"localhost:{port}", "admin.localhost", f"[::1]:{port}", "console.internal")
        ):
            assert urllib3.request("GET", url, headers=page_of(host)).status == 200, host
            created = urllib3.request("POST", url, body=identity(f"page-{n}@example.com"), headers=page_of(host))
            assert created.status == 201, (host, created.data)
        # SDKs and curl send no Fetch Metadata, whatever name they use.
        tool = urllib3.request("GET", url, headers={"Host": f"warden-admin.internal:{port}"})
        assert tool.status == 200 and len(tool.json()) == 5


def test_logging_out_removes_a_cross_site_session_cookie(tmp_path: Path) -> None:
    """A session cookie made `SameSite=None; Secure` (a SPA on another site) was deleted at logout
    by a `Set-Cookie` without those attributes. Browsers refuse it: a cookie without SameSite is Lax,
    which a cross-site response may not set, and a `__Secure-` cookie only yields to a Secure one.
    The browser kept the cookie. The deletion now carries the cookie's own attributes, as Kratos's."""
    config = ui_config()
    config["cookies"] = {"secure": "true"}
    config["session"] = {"cookie": {"same_site": "None", "name": "__Secure-warden_session"}}
    with running_warden(settings_for(tmp_path, f"sqlite://{tmp_path}/warden.sqlite", config)) as warden:
        spa = Browser(warden.public_url, json=True)
        flow = spa.get("/self-service/registration/browser").json()
        body = {
            "method": "password",
            "password": PASSWORD,
            "traits.email": "cross-site@example.com",
            "csrf_token": node(flow, "csrf_token")["attributes"]["value"],
        }
        assert spa.post(flow["ui"]["action"], body).status == 200
        logout_url = spa.get("/self-service/logout/browser").json()["logout_url"]
        logged_out = spa.get(logout_url)
    assert logged_out.status == 204, logged_out
    deleted = logged_out.set_cookies["__Secure-warden_session"]
    assert deleted["max-age"] == "0" or "1970" in deleted["expires"]
    assert (deleted["secure"], deleted["samesite"], deleted["httponly"]) == (True, "None", True)


def test_of_two_cookies_of_one_name_the_first_counts_as_in_kratos_and_the_gateway(warden: ThreadedWarden) -> None:
    """A request may carry two cookies of a name (one set by a sibling subdomain for the parent
    domain, one by Warden). Go's `Request.Cookie`, so Kratos, and Warden's Envoy path take the first;
    Warden's HTTP endpoints took the last, so a gateway and Warden could act on different sessions."""
    spa = Browser(warden.public_url, json=True)
    flow = spa.get("/self-service/registration/browser").json()
    body = {
        "method": "password",
        "password": PASSWORD,
        "traits.email": "two-cookies@example.com",
        "csrf_token": node(flow, "csrf_token")["attributes"]["value"],
    }
    assert spa.post(flow["ui"]["action"], body).status == 200
    session = spa.cookies["ory_kratos_session"]

    def whoami(cookie_header: str) -> int:
        return urllib3.request(
            "GET",
            f"{warden.public_url}/sessions/whoami",
            headers={"Cookie": cookie_header, "Accept": "application/json"},
        ).status

    assert whoami(f"ory_kratos_session={session}; ory_kratos_session=tossed") == 200
    assert whoami(f"ory_kratos_session=tossed; ory_kratos_session={session}") == 401
    checked = urllib3.request(
        "GET",
        f"{warden.public_url}/sessions/check",
        headers={"Cookie": f"ory_kratos_session={session}; ory_kratos_session=x"},
    )
    assert checked.status == 200, "the gateway's answer and whoami's agree"


def test_json_answers_name_their_charset(warden: ThreadedWarden) -> None:
    """ASVS 3.4.1 (checklist CS-7): whoami, from the database and then from the cache, and the
    answers around it say `charset=utf-8`, so no client guesses one."""
    api = Browser(warden.public_url, json=True)
    flow = api.get("/self-service/registration/api").json()
    body = {"method": "password", "password": PASSWORD, "traits.email": "charset@example.com"}
    registered = api.post(flow["ui"]["action"], body)
    assert registered.status == 200, registered
    token = registered.json()["session_token"]
    answers = [
        urllib3.request("GET", f"{warden.public_url}/sessions/whoami", headers={"X-Session-Token": token})
        for _ in range(2)  # a miss, then a hit
    ]
    answers.append(urllib3.request("GET", f"{warden.public_url}/sessions/whoami"))  # 401
    answers.append(urllib3.request("GET", f"{warden.public_url}/self-service/login/api"))
    for answer in answers:
        assert answer.headers["Content-Type"] == "application/json; charset=utf-8", answer.headers
