"""`GET /sessions/check`, the forward-auth endpoint, on a real all-in-one Warden: headers only, the
token from wherever whoami takes it, 401 and 403 without a body, revocation seen at once, and (in
the distributed mode) answered from Redis's entry of the session."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_sync
import urllib3

from services.session.check import header_value
from shared.cookies import CookieSigner
from tests.factories import ThreadedWarden, running_warden, settings_for
from tests.gateway_helpers import COOKIE_SECRET, create_identity, gateway_config, log_out, sign_in


@pytest.fixture
def warden(tmp_path: Path) -> Iterator[ThreadedWarden]:
    with running_warden(settings_for(tmp_path, f"sqlite:///{tmp_path}/db.sqlite", gateway_config())) as running:
        yield running


def check(warden: ThreadedWarden, headers: dict[str, str] | None = None, query: str = "") -> urllib3.BaseHTTPResponse:
    return urllib3.request("GET", f"{warden.public_url}/sessions/check{query}", headers=headers or {})


def test_a_signed_in_request_passes_with_identity_session_aal_and_trait_headers(warden: ThreadedWarden) -> None:
    identity = create_identity(warden.admin_url, {"email": "ada@example.com", "name": {"first": "Ada Ümlaut\r\nX: 1"}})
    token, session = sign_in(warden.admin_url, identity)
    cookie = f"ory_kratos_session={CookieSigner([COOKIE_SECRET]).sign(token)}"
    for headers in ({"X-Session-Token": token}, {"Authorization": f"Bearer {token}"}, {"Cookie": f"a=b; {cookie}"}):
        response = check(warden, headers)
        assert response.status == 200, headers
        assert response.data == b""
        assert response.headers["X-Kratos-Authenticated-Identity-Id"] == identity
        assert response.headers["X-Warden-Session-Id"] == session["id"]
        assert response.headers["X-Warden-Aal"] == "aal1"
        assert response.headers["X-User-Email"] == "ada@example.com"
        # A trait can never end a header or start another: it arrives percent-encoded.
        assert response.headers["X-User-First-Name"] == "Ada %C3%9Cmlaut%0D%0AX: 1"
        assert "X" not in response.headers
        assert "no-store" in response.headers["Cache-Control"]


def test_no_session_a_malformed_token_and_a_forged_cookie_get_401_without_a_body(warden: ThreadedWarden) -> None:
    token, _ = sign_in(warden.admin_url, create_identity(warden.admin_url))
    for headers in (
        {},
        {"X-Session-Token": "ory_st_unknown"},
        {"X-Session-Token": "x" * 5_000},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Cookie": f"ory_kratos_session={token}.forged-signature"},
    ):
        response = check(warden, headers)
        assert (response.status, response.data) == (401, b""), headers
        assert "X-Kratos-Authenticated-Identity-Id" not in response.headers


def test_aal2_by_query_parameter(warden: ThreadedWarden) -> None:
    identity = create_identity(warden.admin_url)
    aal1, _ = sign_in(warden.admin_url, identity)
    aal2, _ = sign_in(warden.admin_url, identity, aal="aal2")
    assert check(warden, {"X-Session-Token": aal1}, "?aal=aal2").status == 403
    assert check(warden, {"X-Session-Token": aal1}, "?aal=aal2").data == b""
    response = check(warden, {"X-Session-Token": aal2}, "?aal=aal2")
    assert (response.status, response.headers["X-Warden-Aal"]) == (200, "aal2")


def test_a_revoked_session_is_refused_at_once(warden: ThreadedWarden) -> None:
    token, _ = sign_in(warden.admin_url, create_identity(warden.admin_url))
    assert check(warden, {"X-Session-Token": token}).status == 200  # now in the cache
    log_out(warden.public_url, token)
    assert check(warden, {"X-Session-Token": token}).status == 401


def test_trait_values_as_headers() -> None:
    assert header_value("ada@example.com") == "ada@example.com"
    assert header_value("100%") == "100%25"
    assert header_value(None) == header_value("") == ""
    assert header_value(["a", 1]) == '["a",1]'
    assert header_value(True) == "true"


@pytest.mark.redis
@pytest.mark.postgres
def test_in_the_distributed_mode_the_check_answers_from_redis(
    tmp_path: Path, pg_dsn: str, redis_url: str, redis_prefix: str
) -> None:
    extra = gateway_config(cache={"url": redis_url, "prefix": redis_prefix})
    with running_warden(settings_for(tmp_path, pg_dsn, extra)) as warden:
        token, _ = sign_in(warden.admin_url, create_identity(warden.admin_url))
        assert check(warden, {"X-Session-Token": token}).status == 200
        key = f"{redis_prefix}session:{hashlib.sha256(token.encode()).hexdigest()}"
        redis = redis_sync.Redis.from_url(redis_url)
        try:
            cached = redis.get(key)
            assert cached is not None
            # Whoami's entry is the check's: a changed body shows in the check's headers.
            redis.set(key, cached.replace(b'"email":"', b'"email":"cached-'))
            assert check(warden, {"X-Session-Token": token}).headers["X-User-Email"].startswith("cached-")
        finally:
            redis.close()
