"""`login_challenge` on the browser login and registration endpoints, as Kratos answers it when no
OAuth2 provider (`oauth2_provider.url`) is configured (`hydra.GetLoginChallengeID`): a 500
`invalid_configuration` error, JSON for a SPA and on the error UI for a browser, never a flow that
would sign the user in and leave the OAuth2 client waiting.

One Warden on PostgreSQL serves the module; one with registration disabled is started for that
check alone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import (
    ERROR_UI,
    UI,
    Browser,
    Response,
    create_identity,
    database,
    query_param,
    selfservice_settings,
)

# Kratos: herodot.ErrMisconfiguration() with GetLoginChallengeID's reason.
EXPECTED = {
    "id": "invalid_configuration",
    "code": 500,
    "status": "Internal Server Error",
    "message": "Invalid configuration",
    "reason": "refusing to parse login_challenge query parameter because oauth2_provider.url is invalid or unset",
}
CHALLENGE = "?login_challenge=0123456789abcdef"


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("login-challenge")
    with database("postgres", directory) as dsn, running_warden(selfservice_settings(directory, dsn)) as running:
        yield running


def _error(answer: Response) -> dict[str, Any]:
    return {k: answer.json()["error"].get(k) for k in EXPECTED}


def _stored_error(browser: Browser, answer: Response) -> dict[str, Any]:
    assert answer.status == 303 and answer.location.startswith(f"{ERROR_UI}?id="), answer
    fetched = browser.get(f"/self-service/errors?id={query_param(answer.location, 'id')}", as_json=True)
    assert fetched.status == 200, fetched
    return {k: fetched.json()["error"].get(k) for k in EXPECTED}


@pytest.mark.parametrize("kind", ["login", "registration"])
def test_a_login_challenge_without_an_oauth2_provider_is_kratoss_misconfiguration(
    warden: ThreadedWarden, kind: str
) -> None:
    spa = Browser(warden.public_url, json=True)
    for query in (CHALLENGE, "?login_challenge=", "?login_challenge"):  # present is enough, as in Kratos
        answer = spa.get(f"/self-service/{kind}/browser{query}")
        assert answer.status == 500, (query, answer)
        assert _error(answer) == EXPECTED, (query, answer.json())
    browser = Browser(warden.public_url)
    assert _stored_error(browser, browser.get(f"/self-service/{kind}/browser{CHALLENGE}")) == EXPECTED


@pytest.mark.parametrize("kind", ["login", "registration"])
def test_the_api_endpoints_do_not_read_a_login_challenge(warden: ThreadedWarden, kind: str) -> None:
    """Kratos reads it on the browser endpoints alone; an app's flow is made as without it."""
    answer = Browser(warden.public_url, json=True).get(f"/self-service/{kind}/api{CHALLENGE}")
    assert answer.status == 200, answer
    assert "oauth2_login_challenge" not in answer.json() or answer.json()["oauth2_login_challenge"] is None


def test_the_login_challenge_is_read_before_the_session(warden: ThreadedWarden) -> None:
    """Kratos's `createBrowserLoginFlow` reads it first of all: a signed-in browser gets the same
    error, not `session_already_available` nor a redirect to the default return URL."""
    email = f"challenge-{uuid.uuid4().hex[:10]}@example.com"
    create_identity(warden.admin_url, email)
    spa = Browser(warden.public_url, json=True)
    flow = spa.get("/self-service/login/browser").json()
    form = {"identifier": email, "password": "Quartz-Lantern-Nimbus-4817", "method": "password"}
    signed_in = spa.post(flow["ui"]["action"], {**form, "csrf_token": _csrf(flow)})
    assert signed_in.status == 200, signed_in
    for kind in ("login", "registration"):
        answer = spa.get(f"/self-service/{kind}/browser{CHALLENGE}")
        assert answer.status == 500 and _error(answer) == EXPECTED, (kind, answer)
    assert spa.get("/self-service/login/browser").json()["error"]["id"] == "session_already_available"


def test_a_configured_oauth2_provider_is_no_help_and_a_disabled_registration_comes_first(tmp_path: Path) -> None:
    """Warden has no Hydra integration: with `oauth2_provider.url` set, the challenge is refused all
    the same, in words that say so. Kratos builds the registration flow (which refuses a disabled
    registration) before it reads the challenge."""
    extra = {"flows": {"registration": {"enabled": False}}, "oauth2_provider": {"url": "http://127.0.0.1:4445"}}
    with database("postgres", tmp_path) as dsn, running_warden(selfservice_settings(tmp_path, dsn, **extra)) as warden:
        spa = Browser(warden.public_url, json=True)
        answer = spa.get(f"/self-service/login/browser{CHALLENGE}")
        assert answer.status == 500, answer
        assert _error(answer) == {
            **EXPECTED,
            "reason": "refusing to parse login_challenge query parameter because Warden does not implement "
            "the Ory Hydra integration that oauth2_provider.url configures",
        }
        answer = spa.get(f"/self-service/registration/browser{CHALLENGE}")
        assert answer.status == 400 and answer.json()["error"]["id"] == "self_service_flow_disabled", answer


def test_without_a_login_challenge_the_browser_goes_to_the_ui(warden: ThreadedWarden) -> None:
    started = Browser(warden.public_url).get("/self-service/login/browser?login_challengex=1")
    assert started.status == 303 and started.location.startswith(f"{UI}/login?flow="), started


def _csrf(flow: dict[str, Any]) -> str:
    return str(
        next(n for n in flow["ui"]["nodes"] if n["attributes"].get("name") == "csrf_token")["attributes"]["value"]
    )
