"""The order in which the settings flow's fetch and submission check a request, against Kratos's
`selfservice/flow/settings/handler.go`, so that a user meets the error Kratos would show:

- fetch (`getSettingsFlow`): the session (`IsAuthenticated`), the flow (404), its identity (403
  `security_identity_mismatch`), the session's AAL (403 `session_aal2_required`), its expiry (410).
  Kratos checks no CSRF cookie there; Warden still does, last, so it refuses only what Kratos would
  have answered with the flow.
- submission (`updateSettingsFlow`): the session, the flow id (400) and the flow (404), the
  session's AAL, the flow's expiry (a new flow), its identity, then the method's CSRF token.

One Warden on PostgreSQL serves the module."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import asyncpg
import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import (
    CONFIGURED_BASE,
    PASSWORD,
    UI,
    Browser,
    Response,
    create_identity,
    database,
    query_param,
    selfservice_settings,
)

CSRF_COOKIE = "csrf_token_" + hashlib.sha256(f"{CONFIGURED_BASE}/".encode()).hexdigest()
SESSION_COOKIE = "ory_kratos_session"
LONG_AGO = "2000-01-01T00:00:00+00:00"
TOTP = {"totp": {"config": {"totp_url": "otpauth://totp/W:x?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=W"}}}


@pytest.fixture(scope="module")
def dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with database("postgres", tmp_path_factory.mktemp("settings-order")) as made:
        yield made


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory, dsn: str) -> Iterator[ThreadedWarden]:
    with running_warden(selfservice_settings(tmp_path_factory.mktemp("settings-order-config"), dsn)) as running:
        yield running


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _signed_in(warden: ThreadedWarden, *, totp: bool = False) -> Browser:
    """A SPA signed in with a password (aal1) as a new identity, with a TOTP credential if asked."""
    email = _email("settings-order")
    identity_id = create_identity(warden.admin_url, email)
    spa = Browser(warden.public_url, json=True)
    flow = spa.get("/self-service/login/browser").json()
    csrf = next(n for n in flow["ui"]["nodes"] if n["attributes"].get("name") == "csrf_token")["attributes"]["value"]
    form = {"identifier": email, "password": PASSWORD, "method": "password", "csrf_token": csrf}
    assert spa.post(flow["ui"]["action"], form).status == 200
    if totp:
        _add_totp(warden, identity_id)
    return spa


def _add_totp(warden: ThreadedWarden, identity_id: str) -> None:
    identity = json.loads(urllib3.request("GET", f"{warden.admin_url}/admin/identities/{identity_id}").data)
    body = {"schema_id": "default", "traits": identity["traits"], "state": "active", "credentials": TOTP}
    put = urllib3.request("PUT", f"{warden.admin_url}/admin/identities/{identity_id}", json=body)
    assert put.status == 200, put.data


def _settings_flow(spa: Browser) -> dict[str, Any]:
    answer = spa.get("/self-service/settings/browser")
    assert answer.status == 200, answer
    return dict(answer.json())


def _expire(warden: ThreadedWarden, dsn: str, flow_id: str) -> None:
    async def update() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(
                "UPDATE selfservice_flows SET expires_at = $2, "
                "body = jsonb_set(body::jsonb, '{expires_at}', to_jsonb($3::text))::text WHERE id = $1",
                flow_id,
                datetime.fromisoformat(LONG_AGO),
                LONG_AGO,
            )
        finally:
            await conn.close()

    warden.run(update())


def _with(spa: Browser, **cookies: str) -> dict[str, str]:
    """A Cookie header of the SPA's cookies, some replaced (an empty value drops the cookie)."""
    jar = {**spa.cookies, **cookies}
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items() if v)}


def _fetch(spa: Browser, flow: dict[str, Any], **cookies: str) -> Response:
    return spa.get(f"/self-service/settings/flows?id={flow['id']}", headers=_with(spa, **cookies), cookies=False)


def _error_id(answer: Response) -> str:
    return str(answer.json()["error"]["id"])


# --- fetch -------------------------------------------------------------------------------------


def test_a_fetch_reports_the_expiry_before_a_missing_csrf_cookie(warden: ThreadedWarden, dsn: str) -> None:
    spa = _signed_in(warden)
    flow = _settings_flow(spa)
    _expire(warden, dsn, flow["id"])
    answer = _fetch(spa, flow, **{CSRF_COOKIE: ""})
    assert answer.status == 410 and _error_id(answer) == "self_service_flow_expired", answer


def test_a_fetch_by_another_identity_is_a_mismatch_whatever_its_csrf_cookie_or_expiry(
    warden: ThreadedWarden, dsn: str
) -> None:
    owner, other = _signed_in(warden), _signed_in(warden)
    flow = _settings_flow(owner)
    answer = _fetch(other, flow)  # the other browser's own CSRF cookie
    assert answer.status == 403 and _error_id(answer) == "security_identity_mismatch", answer
    _expire(warden, dsn, flow["id"])
    answer = _fetch(other, flow, **{CSRF_COOKIE: owner.cookies[CSRF_COOKIE]})
    assert answer.status == 403 and _error_id(answer) == "security_identity_mismatch", answer


def test_a_fetch_checks_the_aal_before_the_expiry_and_the_csrf_cookie(warden: ThreadedWarden, dsn: str) -> None:
    spa = _signed_in(warden)
    flow = _settings_flow(spa)
    _add_totp(warden, flow["identity"]["id"])  # a second factor now: the aal1 session no longer suffices
    _expire(warden, dsn, flow["id"])
    answer = _fetch(spa, flow, **{CSRF_COOKIE: ""})
    assert answer.status == 403 and _error_id(answer) == "session_aal2_required", answer
    assert answer.json()["redirect_browser_to"].startswith(f"{CONFIGURED_BASE}/self-service/login/browser?aal=aal2")


def test_a_fetch_without_the_csrf_cookie_is_still_refused(warden: ThreadedWarden) -> None:
    """Warden's own check, where Kratos answers with the flow: a browser flow is read by the browser
    it was made for alone (the session is not enough: a copied session cookie is another browser)."""
    spa = _signed_in(warden)
    flow = _settings_flow(spa)
    for cookie in ("", "x" * 43):
        answer = _fetch(spa, flow, **{CSRF_COOKIE: cookie})
        assert answer.status == 403 and _error_id(answer) == "security_csrf_violation", (cookie, answer)
    assert _fetch(spa, flow).status == 200


# --- submission --------------------------------------------------------------------------------


def test_a_submission_without_a_session_is_sent_to_sign_in_whatever_its_csrf_token(warden: ThreadedWarden) -> None:
    """Kratos's `IsAuthenticated` comes before anything the flow or the form holds."""
    spa = _signed_in(warden)
    flow = _settings_flow(spa)
    body = {"method": "profile", "traits": {"email": _email("x")}, "csrf_token": "forged"}
    for accept_json in (True, False):
        answer = spa.request(
            "POST",
            flow["ui"]["action"],
            body=body,
            headers=_with(spa, **{SESSION_COOKIE: "", CSRF_COOKIE: ""}),
            cookies=False,
            as_json=accept_json,
        )
        if accept_json:
            assert answer.status == 401 and _error_id(answer) == "session_inactive", answer
        else:
            assert answer.status == 302 and answer.location == f"{UI}/login", answer


def test_a_submission_checks_the_aal_before_the_flows_identity(warden: ThreadedWarden) -> None:
    owner, other = _signed_in(warden), _signed_in(warden, totp=True)
    flow = _settings_flow(owner)
    body = {"method": "profile", "traits": {"email": _email("y")}, "csrf_token": "forged"}
    answer = other.post(flow["ui"]["action"], body)
    assert answer.status == 403 and _error_id(answer) == "session_aal2_required", answer


def test_an_expired_flow_submitted_by_another_identity_is_replaced_by_one_of_its_own(
    warden: ThreadedWarden, dsn: str
) -> None:
    """Kratos checks the expiry before the identity (`Flow.Valid`): the submitter gets a new flow,
    made for its own identity; the expired one is left as it was."""
    owner, other = _signed_in(warden), _signed_in(warden)
    flow = _settings_flow(owner)
    _expire(warden, dsn, flow["id"])
    body = {"method": "profile", "traits": {"email": _email("z")}, "csrf_token": "forged"}
    answer = other.post(flow["ui"]["action"], body)
    assert answer.status == 410 and _error_id(answer) == "self_service_flow_expired", answer
    fresh = other.get(f"/self-service/settings/flows?id={answer.json()['use_flow_id']}")
    assert fresh.status == 200 and fresh.json()["identity"]["id"] != flow["identity"]["id"], fresh
    browser = Browser(warden.public_url)
    browser.cookies = dict(other.cookies)
    redirected = browser.post(flow["ui"]["action"], body)
    assert redirected.status == 303 and redirected.location.startswith(f"{CONFIGURED_BASE}/ui/settings?flow="), (
        redirected
    )
    assert query_param(redirected.location, "flow") != flow["id"]
    still = _fetch(owner, flow)
    assert still.status == 410, still


def test_a_live_flow_submitted_by_another_identity_is_refused_before_its_csrf_token(warden: ThreadedWarden) -> None:
    owner, other = _signed_in(warden), _signed_in(warden)
    flow = _settings_flow(owner)
    body = {"method": "profile", "traits": {"email": _email("w")}, "csrf_token": "forged"}
    answer = other.post(flow["ui"]["action"], body)
    assert answer.status == 403 and _error_id(answer) == "security_identity_mismatch", answer


def test_an_expired_flow_is_replaced_before_its_csrf_token_is_checked(warden: ThreadedWarden, dsn: str) -> None:
    spa = _signed_in(warden)
    flow = _settings_flow(spa)
    _expire(warden, dsn, flow["id"])
    body = {"method": "profile", "traits": {"email": _email("v")}, "csrf_token": "forged"}
    answer = spa.post(flow["ui"]["action"], body)
    assert answer.status == 410 and _error_id(answer) == "self_service_flow_expired", answer
