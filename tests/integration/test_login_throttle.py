"""Brute-force throttling of password logins, per identifier, on both engines: after the free
failures each further one blocks the identifier for a doubling delay; unknown identifiers are
throttled the same way, so the throttle reveals no account."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from services.identity.throttle import FREE_FAILURES
from tests.factories import ThreadedWarden, running_warden, settings_for


@pytest.fixture
def warden(tmp_path: Path, any_dsn: str) -> Iterator[ThreadedWarden]:
    with running_warden(settings_for(tmp_path, any_dsn)) as running:
        yield running


def _login(warden: ThreadedWarden, identifier: str, password: str) -> urllib3.BaseHTTPResponse:
    flow = json.loads(urllib3.request("GET", f"{warden.public_url}/self-service/login/api").data)
    return urllib3.request(
        "POST",
        f"{warden.public_url}/self-service/login?flow={flow['id']}",
        json={"method": "password", "identifier": identifier, "password": password},
    )


def _register(warden: ThreadedWarden, email: str, password: str) -> None:
    body: dict[str, Any] = {
        "schema_id": "default",
        "traits": {"email": email},
        "credentials": {"password": {"config": {"password": password}}},
    }
    assert urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=body).status == 201


@pytest.mark.parametrize("known", [True, False])
def test_failures_beyond_the_free_ones_block_the_identifier_for_a_while(warden: ThreadedWarden, known: bool) -> None:
    email = "target@example.com" if known else "nobody@example.com"
    if known:
        _register(warden, email, "the right password 42")
    for _ in range(FREE_FAILURES + 1):
        assert _login(warden, email, "wrong guess").status == 400
    blocked = _login(warden, email, "the right password 42")
    assert blocked.status == 429
    assert int(blocked.headers["Retry-After"]) >= 1
    assert [m["id"] for m in json.loads(blocked.data)["ui"]["messages"]] == [4290001], "the flow says when to retry"
    assert _login(warden, "someone-else@example.com", "wrong guess").status == 400, "other identifiers are not affected"
    time.sleep(1.2)
    if known:
        assert _login(warden, email, "the right password 42").status == 200
        for _ in range(FREE_FAILURES):  # a success starts the count again
            assert _login(warden, email, "wrong guess").status == 400


def test_the_policy_is_the_configs(tmp_path: Path, any_dsn: str) -> None:
    """`rate_limits.password_checks`: two free failures instead of five, and a block of at most 2 s."""
    policy = {"free_failures": 2, "max_block": "2s"}
    settings = settings_for(tmp_path, any_dsn, {"rate_limits": {"password_checks": policy}})
    with running_warden(settings) as warden:
        for _ in range(2 + 1):
            assert _login(warden, "tight@example.com", "wrong guess").status == 400
        assert _login(warden, "tight@example.com", "wrong guess").status == 429
        for _ in range(3):  # the blocks double, 1 s then 2 s, and grow no further
            time.sleep(2.2)
            assert _login(warden, "tight@example.com", "wrong guess").status == 400
            refused = _login(warden, "tight@example.com", "wrong guess")
            assert refused.status == 429 and int(refused.headers["Retry-After"]) <= 2
