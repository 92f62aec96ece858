"""`return_to` at the HTTP edge: honoured only under an allowed URL, with nothing a browser would
read differently from the check; anything else, the unparseable too, is Kratos's 400
`self_service_flow_return_to_forbidden`, never a 500.

The allowed `https://app.example.com/dashboard` sits on a host of its own, so its path prefix is
all that lets a URL on that host through (the UI host is allowed whole, as its default return URL)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from shared.config import load_settings
from tests.factories import ThreadedWarden, running_warden, write_config
from tests.selfservice_helpers import PASSWORD, Browser, selfservice_extra

DASHBOARD = "https://app.example.com/dashboard"
FORBIDDEN = "self_service_flow_return_to_forbidden"


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("return-to")
    extra = selfservice_extra()
    extra["selfservice"]["allowed_return_urls"].append(DASHBOARD)
    with running_warden(load_settings([write_config(directory, "memory", extra)], {}, dev=True)) as running:
        yield running


def _session_token(warden: ThreadedWarden) -> str:
    """A new identity's session token, from a native registration (the `session` hook signs it in)."""
    native = Browser(warden.public_url, json=True)
    flow = native.get("/self-service/registration/api").json()
    email = f"return-to-{uuid.uuid4().hex[:10]}@example.com"
    body = {"method": "password", "traits": {"email": email}, "password": PASSWORD}
    done = native.post(flow["ui"]["action"], body)
    assert done.status == 200, done
    return str(done.json()["session_token"])


def _login_init(warden: ThreadedWarden, return_to: str) -> tuple[int, dict[str, object]]:
    answer = Browser(warden.public_url, json=True).get(
        f"/self-service/login/browser?{urlencode({'return_to': return_to})}"
    )
    return answer.status, answer.json()


@pytest.mark.parametrize(
    "url",
    [
        DASHBOARD,
        f"{DASHBOARD}/",
        f"{DASHBOARD}/settings?next=%2Fhome%2F..%2Fx",  # the query is the app's business, not a path
        f"{DASHBOARD}/a%20b/.well-known",
    ],
)
def test_a_url_under_the_allowed_path_is_honoured(warden: ThreadedWarden, url: str) -> None:
    status, flow = _login_init(warden, url)
    assert status == 200 and flow["return_to"] == url, flow


@pytest.mark.parametrize(
    "url",
    [
        # An encoded separator is no separator to a browser: it would land under /attacker-area/.
        "https://app.example.com/attacker-area/..%2fdashboard",
        "https://app.example.com/attacker-area/..%2Fdashboard",
        "https://app.example.com/attacker-area/..%5cdashboard",
        "https://app.example.com/dashboard%2f..%2f..%2fattacker-area",
        "https://app.example.com/dashboard%2fx",
        # Dot segments, plain or encoded, are resolved by the browser before it asks.
        "https://app.example.com/dashboard/../admin",
        "https://app.example.com/dashboard/%2e%2e/admin",
        "https://app.example.com/dashboard/.%2E/admin",
        "https://app.example.com/dashboard/./x",
        "https://app.example.com/dashboard/..",
        # Already refused before; still refused.
        "https://app.example.com/dashboard-evil",
        "https://app.example.com/admin",
        "https://app.example.com.evil.com/dashboard",
        "https://app.example.com@evil.com/dashboard",
        "http://app.example.com/dashboard",
        "https://app.example.com/dashboard\\@evil.com",
    ],
)
def test_a_url_that_escapes_the_allowed_path_is_refused(warden: ThreadedWarden, url: str) -> None:
    status, body = _login_init(warden, url)
    assert status == 400 and body["error"]["id"] == FORBIDDEN, body  # type: ignore[index]


UNPARSEABLE = ["http://[", "https://app.example.com\uff0f@evil.example/dashboard", "http://127.0.0.1:4455\uff0f"]


@pytest.mark.parametrize("url", UNPARSEABLE)
def test_an_unparseable_return_to_is_refused_not_a_500(
    warden: ThreadedWarden, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    query = urlencode({"return_to": url})
    spa = Browser(warden.public_url, json=True)
    signed_in = {"X-Session-Token": _session_token(warden)}  # a logout looks at return_to once it has a session
    logout_token = spa.get("/self-service/logout/browser", headers=signed_in).json()["logout_token"]
    with caplog.at_level(logging.ERROR):
        answers = [
            spa.get(f"/self-service/login/browser?{query}"),
            spa.get(f"/self-service/login/api?{query}"),
            spa.get(f"/self-service/logout?token={logout_token}&{query}", headers=signed_in),
        ]
    for answer in answers:
        assert answer.status == 400 and answer.json()["error"]["id"] == FORBIDDEN, answer
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "no traceback for a refused return_to"
