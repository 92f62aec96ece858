"""Helpers for the self-service integration tests: configs with what browser and native flows need,
a database per test module, a browser that keeps cookies and never follows redirects, and readers
for flow JSON and Kratos's error bodies."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.cookies import Morsel, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import urllib3
from ory_kratos_client.exceptions import ApiException

from shared.config import Settings, load_settings
from tests.conftest import _fresh_pg_database, require_server
from tests.factories import write_config

CONFIGURED_BASE = "http://127.0.0.1:4433"  # the factory's serve.public.base_url, without the slash
UI = "http://127.0.0.1:4455"
RETURN_URL = f"{UI}/"  # selfservice.default_browser_return_url
LOGOUT_RETURN_URL = f"{UI}/logged-out"
ERROR_UI = f"{UI}/error"
INTERNAL_TOKEN = "selfservice-tests-internal-token"
COOKIE_SECRET = "selfservice-tests-cookie-secret-0123456789"
SESSION_LIFESPAN_SECONDS = 7200
# Passes the policy: long enough, not in the breached list, not similar to any test email.
PASSWORD = "Quartz-Lantern-Nimbus-4817"
SESSION_HOOK = [{"hook": "session"}]


# --- configs -----------------------------------------------------------------------------------


def selfservice_extra(
    *,
    session_hook: bool = True,
    flows: Mapping[str, Any] | None = None,
    methods: Mapping[str, Any] | None = None,
    **top: Any,
) -> dict[str, Any]:
    """Top-level config keys for `settings_for`/`write_config`: cookie secret, internal token, UI
    URLs, and (by default) the `session` hook after password registration. `flows` entries are
    merged into each flow's section; `top` replaces whole top-level keys."""
    flow_config: dict[str, dict[str, Any]] = {
        "login": {"ui_url": f"{UI}/login"},
        "registration": {"ui_url": f"{UI}/registration"},
        "error": {"ui_url": ERROR_UI},
        "logout": {"after": {"default_browser_return_url": LOGOUT_RETURN_URL}},
    }
    if session_hook:
        flow_config["registration"]["after"] = {"password": {"hooks": SESSION_HOOK}}
    for kind, section in (flows or {}).items():
        flow_config.setdefault(kind, {}).update(section)
    selfservice: dict[str, Any] = {
        "default_browser_return_url": RETURN_URL,
        "allowed_return_urls": [f"{UI}/app/"],
        "flows": flow_config,
    }
    if methods:
        selfservice["methods"] = dict(methods)
    return {
        "secrets": {"cookie": [COOKIE_SECRET]},
        "services": {"internal_token": INTERNAL_TOKEN},
        "session": {"lifespan": f"{SESSION_LIFESPAN_SECONDS}s"},
        "selfservice": selfservice,
        **top,
    }


def selfservice_settings(directory: Path, dsn: str, *, dev: bool = True, **options: Any) -> Settings:
    return load_settings([write_config(directory, dsn, selfservice_extra(**options))], {}, dev=dev)


def sqlite_selfservice_settings(directory: Path, **options: Any) -> Settings:
    """`selfservice_settings` on a SQLite file of `directory`'s own."""
    return selfservice_settings(directory, f"sqlite://{directory}/warden.sqlite", **options)


@contextmanager
def database(kind: str, directory: Path) -> Iterator[str]:
    """A DSN of its own: a SQLite file in `directory`, or a fresh PostgreSQL database (dropped after)."""
    if kind == "sqlite":
        yield f"sqlite://{directory}/warden.sqlite"
        return
    require_server("PostgreSQL", "127.0.0.1", 5432)
    databases = _fresh_pg_database()
    try:
        yield next(databases)
    finally:
        databases.close()


# --- flow JSON ---------------------------------------------------------------------------------


def as_dict(value: Any) -> dict[str, Any]:
    """An SDK model or a dict, as plain JSON types."""
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    return json.loads(json.dumps(value, default=str))


def node(flow: Any, name: str) -> dict[str, Any]:
    found = [n for n in as_dict(flow)["ui"]["nodes"] if n["attributes"].get("name") == name]
    assert found, f"no node named {name!r}"
    return found[0]


def node_names(flow: Any) -> list[str]:
    return [n["attributes"].get("name") for n in as_dict(flow)["ui"]["nodes"]]


def message_ids(flow: Any, name: str | None = None) -> list[int]:
    """The ids of `ui.messages`, or of the named node's messages."""
    messages = node(flow, name)["messages"] if name else as_dict(flow)["ui"].get("messages") or []
    return [m["id"] for m in messages]


def api_error(call: Callable[[], Any]) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of an SDK call that must fail."""
    with pytest.raises(ApiException) as caught:
        call()
    return caught.value.status, json.loads(caught.value.body)


def create_identity(admin_url: str, email: str, password: str = PASSWORD) -> str:
    """An identity with a password, through the admin API; its id."""
    response = urllib3.request(
        "POST",
        f"{admin_url}/admin/identities",
        json={
            "schema_id": "default",
            "traits": {"email": email},
            "credentials": {"password": {"config": {"password": password}}},
        },
    )
    assert response.status == 201, response.data
    return str(json.loads(response.data)["id"])


def api_password_login(public_url: str, email: str, password: str = PASSWORD) -> str:
    """A password login through a native (API) flow, as an app signs in: its session token."""
    flow = json.loads(urllib3.request("GET", f"{public_url}/self-service/login/api").data)
    body = {"method": "password", "identifier": email, "password": password}
    done = urllib3.request("POST", f"{public_url}/self-service/login?flow={flow['id']}", json=body)
    assert done.status == 200, done.data
    return str(json.loads(done.data)["session_token"])


def query_param(url: str, name: str) -> str:
    values = parse_qs(urlsplit(url).query).get(name)
    assert values, f"no {name!r} in {url!r}"
    return values[0]


# --- a browser ---------------------------------------------------------------------------------


class Response:
    def __init__(self, raw: urllib3.BaseHTTPResponse) -> None:
        self.status = raw.status
        self.headers = raw.headers
        self.data = raw.data
        self.set_cookies: dict[str, Morsel[str]] = {}
        for header in raw.headers.getlist("Set-Cookie"):
            parsed: SimpleCookie = SimpleCookie()
            parsed.load(header)
            self.set_cookies.update(parsed)

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")

    def json(self) -> Any:
        return json.loads(self.data)

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.location or self.data[:300]!r}>"


class Browser:
    """Keeps cookies like a browser on one host; redirects are returned, never followed. URLs on the
    configured public base URL (`ui.action`, `logout_url`) are sent to the running server instead.
    `json=True` makes it a SPA: it asks for JSON and posts JSON; `http`, a pool of its own (one that
    trusts a test's certificate)."""

    def __init__(self, public_url: str, *, json: bool = False, http: urllib3.PoolManager | None = None) -> None:
        self.public_url = public_url.rstrip("/")
        self.json = json
        self.cookies: dict[str, str] = {}
        self._http = http or urllib3.PoolManager()

    def local(self, url: str) -> str:
        if url.startswith(CONFIGURED_BASE):
            return self.public_url + url[len(CONFIGURED_BASE) :]
        return url if urlsplit(url).scheme else self.public_url + url

    def get(self, url: str, **kw: Any) -> Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, body: Mapping[str, Any], **kw: Any) -> Response:
        return self.request("POST", url, body=body, **kw)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        cookies: bool = True,
        as_json: bool | None = None,
    ) -> Response:
        """`cookies=False` sends none (but still keeps what comes back); `as_json` overrides the mode."""
        as_json = self.json if as_json is None else as_json
        sent = {"Accept": "application/json" if as_json else "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}
        if cookies and self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        sent.update(headers or {})
        kw: dict[str, Any] = {}
        if body is not None and as_json:
            kw["json"] = dict(body)
        elif body is not None:
            kw["body"] = urlencode(dict(body))
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        response = Response(
            self._http.request(method, self.local(url), headers=sent, redirect=False, retries=False, **kw)
        )
        self._keep(response)
        return response

    def _keep(self, response: Response) -> None:
        for name, morsel in response.set_cookies.items():
            if morsel["max-age"] == "0" or (morsel["max-age"] == "" and "1970" in morsel["expires"]):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value


class SettingsClient:
    """A client signed in with a password, holding one settings flow: an app (`api`: JSON with a
    session token), a SPA (`spa`: JSON with cookies) or a browser posting forms (`browser`: sent
    back to the settings UI with a 303, where the UI fetches the flow). `flow` is the flow each
    answer shows next."""

    def __init__(self, public_url: str, email: str, kind: str) -> None:
        self.kind, self.public_url = kind, public_url
        self.browser, self.token = Browser(public_url, json=kind == "spa"), None
        # What a refused submission answers: 400 with the flow, or the settings page (303, then 200).
        self.refused = 200 if kind == "browser" else 400
        if kind == "api":
            self.token = api_password_login(public_url, email)
            headers = {"X-Session-Token": self.token, "Accept": "application/json"}
            self.flow = json.loads(
                urllib3.request("GET", f"{public_url}/self-service/settings/api", headers=headers).data
            )
            return
        login = self._started("login")
        form = {"method": "password", "identifier": email, "password": PASSWORD, "csrf_token": self._csrf(login)}
        signed_in = self.browser.post(login["ui"]["action"], form)
        assert signed_in.status in (200, 303) and "ory_kratos_session" in self.browser.cookies, signed_in
        self.flow = self._started("settings")

    def _started(self, kind: str) -> dict[str, Any]:
        started = self.browser.get(f"/self-service/{kind}/browser")
        if self.kind == "spa":
            assert started.status == 200, started
            return dict(started.json())
        return self._shown(kind, started.location)

    def _shown(self, kind: str, ui_url: str) -> dict[str, Any]:
        """The flow the UI at `ui_url` (`…?flow=`) fetches to show."""
        shown = self.browser.get(f"/self-service/{kind}/flows?id={query_param(ui_url, 'flow')}", as_json=True)
        assert shown.status == 200, shown
        return dict(shown.json())

    @staticmethod
    def _csrf(flow: dict[str, Any]) -> str:
        return str(node(flow, "csrf_token")["attributes"]["value"])

    def submit(self, body: Mapping[str, Any]) -> int:
        """Posts to the flow and keeps the flow shown next; the status the client ends on."""
        if self.kind == "api":
            headers = {"Accept": "application/json", "X-Session-Token": str(self.token)}
            url = f"{self.public_url}/self-service/settings?flow={self.flow['id']}"
            answer = urllib3.request("POST", url, json=dict(body), headers=headers)
            self.flow = json.loads(answer.data)
            return answer.status
        posted = self.browser.post(self.flow["ui"]["action"], {**body, "csrf_token": self._csrf(self.flow)})
        if self.kind == "spa":
            self.flow = posted.json()
            return posted.status
        assert posted.status == 303 and "/settings?flow=" in posted.location, posted
        self.flow = self._shown("settings", posted.location)
        return 200
