"""`session.inactivity_timeout` (checklist SE-6; Warden's, Kratos has none), on both engines and
both caches: a session used more often than the timeout lives on, its lifespan untouched; left
unused for longer, it is refused by whoami and by the caller's own session APIs, and shows (and
then is) inactive to the admin. Without the key, sessions never go idle, as in Kratos."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden, settings_for
from tests.metrics_helpers import scrape, value

TOKEN = "inactivity-tests-internal-token"
# A use is recorded every quarter of it: between two uses half a second apart, a recorded use is at
# most about a third of it old, so only a stall of some two seconds (a loaded CI machine's commit
# waiting on the disk) between two requests could make a session in use look idle. At 2 s, one did.
IDLE_SECONDS = 3


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "memory":
        return {"url": "memory"}
    return {"url": request.getfixturevalue("redis_url"), "prefix": request.getfixturevalue("redis_prefix")}


def _warden(tmp_path: Path, dsn: str, cache: dict[str, Any], **session: Any) -> Iterator[ThreadedWarden]:
    extra = {"services": {"internal_token": TOKEN}, "cache": cache, "session": {"lifespan": "1h", **session}}
    with running_warden(settings_for(tmp_path, dsn, extra)) as running:
        yield running


@pytest.fixture
def warden(tmp_path: Path, any_dsn: str, cache: dict[str, Any]) -> Iterator[ThreadedWarden]:
    yield from _warden(tmp_path, any_dsn, cache, inactivity_timeout=f"{IDLE_SECONDS}s")


def _issue(warden: ThreadedWarden) -> tuple[str, str]:
    identity = urllib3.request(
        "POST",
        f"{warden.admin_url}/admin/identities",
        json={"schema_id": "default", "traits": {"email": f"idle-{time.monotonic_ns()}@example.com"}},
    )
    assert identity.status == 201, identity.data
    issued = urllib3.request(
        "POST",
        f"{warden.admin_url}/internal/session/sessions",
        headers={"X-Warden-Internal-Token": TOKEN},
        json={"identity_id": json.loads(identity.data)["id"], "methods": [{"method": "password", "aal": "aal1"}]},
    )
    assert issued.status == 201, issued.data
    body = json.loads(issued.data)
    return body["session_token"], body["session"]["id"]


def _whoami(warden: ThreadedWarden, token: str) -> int:
    return urllib3.request("GET", f"{warden.public_url}/sessions/whoami", headers={"X-Session-Token": token}).status


def _admin_view(warden: ThreadedWarden, session_id: str) -> dict[str, Any]:
    answer = urllib3.request("GET", f"{warden.admin_url}/admin/sessions/{session_id}")
    assert answer.status == 200, answer.data
    return dict(json.loads(answer.data))


def test_a_session_in_use_lives_on_and_one_left_unused_is_refused(warden: ThreadedWarden) -> None:
    token, session_id = _issue(warden)
    expires_at = _admin_view(warden, session_id)["expires_at"]
    until = time.monotonic() + 2.5 * IDLE_SECONDS
    while time.monotonic() < until:  # used every half second, for longer than the timeout
        assert _whoami(warden, token) == 200
        time.sleep(0.5)
    seen = _admin_view(warden, session_id)
    assert seen["active"] and seen["expires_at"] == expires_at, "a use never extends the lifespan"
    time.sleep(IDLE_SECONDS + 0.5)
    assert not _admin_view(warden, session_id)["active"], "idle: inactive to the admin before anyone tries it"
    assert _whoami(warden, token) == 401
    assert _whoami(warden, token) == 401, "and it stays refused"


def test_the_callers_own_session_apis_count_as_use_and_refuse_an_idle_session(warden: ThreadedWarden) -> None:
    token, _ = _issue(warden)
    mine = f"{warden.public_url}/sessions"
    until = time.monotonic() + 2 * IDLE_SECONDS
    while time.monotonic() < until:  # no whoami: the list of one's own sessions alone keeps it alive
        assert urllib3.request("GET", mine, headers={"X-Session-Token": token}).status == 200
        time.sleep(0.5)
    assert _whoami(warden, token) == 200
    time.sleep(IDLE_SECONDS + 0.5)
    assert urllib3.request("GET", mine, headers={"X-Session-Token": token}).status == 401
    assert _whoami(warden, token) == 401


def test_without_the_key_a_session_never_goes_idle(tmp_path: Path, any_dsn: str, cache: dict[str, Any]) -> None:
    for warden in _warden(tmp_path, any_dsn, cache):
        token, session_id = _issue(warden)
        time.sleep(IDLE_SECONDS + 0.5)
        assert _whoami(warden, token) == 200 and _admin_view(warden, session_id)["active"]


def _revoked_events(warden: ThreadedWarden) -> float:
    return value(scrape(warden.admin_url), "warden_bus_published_total", type="session.revoked")


def test_an_idle_session_presented_by_a_burst_is_revoked_once(warden: ThreadedWarden) -> None:
    token, _ = _issue(warden)
    time.sleep(IDLE_SECONDS + 0.5)
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lambda _: _whoami(warden, token), range(8))) == {401}
    deadline = time.monotonic() + 5
    while _revoked_events(warden) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # a second event would have had its relay round by now
    assert _revoked_events(warden) == 1, "one SessionRevoked for one session, however many requests saw it idle"


def test_an_idle_session_revoked_by_the_admin_stays_revoked_without_the_key(
    tmp_path: Path, any_dsn: str, cache: dict[str, Any]
) -> None:
    """Shown inactive before anyone presents it, but still revocable: the admin's DELETE ends it in
    the database, so lifting the timeout later does not bring it back."""
    for warden in _warden(tmp_path, any_dsn, cache, inactivity_timeout=f"{IDLE_SECONDS}s"):
        token, session_id = _issue(warden)
        time.sleep(IDLE_SECONDS + 0.5)
        assert urllib3.request("DELETE", f"{warden.admin_url}/admin/sessions/{session_id}").status == 204
    for warden in _warden(tmp_path, any_dsn, cache):
        assert _whoami(warden, token) == 401
        assert not _admin_view(warden, session_id)["active"]
