"""`serve.public.cors.debug`: every CORS decision on the public port is logged, as Kratos's rs/cors
prints them, for an allowed origin and a refused one, preflight and real request alike, and the
log never holds the cookie or session token the request carried."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import selfservice_settings

ALLOWED = "https://app.example.com"
REFUSED = "https://evil.example"
SECRETS = {"Cookie": "ory_kratos_session=cookie-secret-value", "X-Session-Token": "ory_st_token-secret-value"}
CORS = {"enabled": True, "allowed_origins": [ALLOWED], "debug": True}


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    settings = selfservice_settings(tmp_path_factory.mktemp("cors-debug"), "memory", serve={"public": {"cors": CORS}})
    with running_warden(settings) as running:
        yield running


def _decisions(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "shared.http.cors" and r.levelno == logging.INFO]


def test_preflights_are_logged_with_the_reason_of_a_refusal(
    warden: ThreadedWarden, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shared.http.cors")
    url = f"{warden.public_url}/sessions/whoami"
    ask = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "X-Session-Token"}
    for origin, method in ((ALLOWED, "GET"), (REFUSED, "GET"), (ALLOWED, "TRACE")):
        headers = {"Origin": origin, **ask, "Access-Control-Request-Method": method}
        assert urllib3.request("OPTIONS", url, headers=headers).status == 204
    assert _decisions(caplog) == [
        f"cors: preflight from origin '{ALLOWED}' for GET with headers ['X-Session-Token']: allowed",
        f"cors: preflight from origin '{REFUSED}' for GET with headers ['X-Session-Token']: refused: origin not allowed",
        f"cors: preflight from origin '{ALLOWED}' for TRACE with headers ['X-Session-Token']: "
        "refused: method TRACE not allowed",
    ]


def test_real_requests_are_logged_without_their_cookie_or_token(
    warden: ThreadedWarden, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"{warden.public_url}/sessions/whoami"
    for origin in (ALLOWED, REFUSED):
        assert urllib3.request("GET", url, headers={"Origin": origin, **SECRETS}).status == 401
    assert urllib3.request("GET", url, headers=SECRETS).status == 401  # same-origin: nothing to decide
    assert _decisions(caplog) == [
        f"cors: GET request from origin '{ALLOWED}': allowed",
        f"cors: GET request from origin '{REFUSED}': refused, no CORS headers added: origin not allowed",
    ]
    assert "secret-value" not in caplog.text
