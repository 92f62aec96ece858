"""The metrics an operator watches, read from /metrics as Prometheus reads them, moving when the
thing they count happens in a running Warden (all four services in one process, SQLite, in-process
bus and cache): flows started, succeeded and failed by type and method, their latency, the hashing
queue, throttle blocks, session cache hits and misses, the outbox, the bus and the courier."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from services.identity.throttle import FREE_FAILURES
from tests.factories import ThreadedWarden, running_warden
from tests.integration.test_courier import wait_until
from tests.metrics_helpers import family_names, scrape, total, value
from tests.selfservice_helpers import PASSWORD, create_identity, sqlite_selfservice_settings

FAILED = "warden_selfservice_flows_failed_total"
SUCCEEDED = "warden_selfservice_flows_succeeded_total"
STARTED = "warden_selfservice_flows_started_total"
SUBMIT_COUNT = "warden_selfservice_flow_submit_duration_seconds_count"


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("metrics")
    settings = sqlite_selfservice_settings(
        directory,
        flows={"verification": {"enabled": True}, "recovery": {"enabled": True}},
    )
    with running_warden(settings) as running:
        yield running


def _api_flow(warden: ThreadedWarden, kind: str) -> str:
    response = urllib3.request("GET", f"{warden.public_url}/self-service/{kind}/api")
    assert response.status == 200, response.data
    return str(json.loads(response.data)["id"])


def _login(warden: ThreadedWarden, identifier: str, password: str) -> urllib3.BaseHTTPResponse:
    flow = _api_flow(warden, "login")
    body = {"method": "password", "identifier": identifier, "password": password}
    return urllib3.request("POST", f"{warden.public_url}/self-service/login?flow={flow}", json=body)


def _register(warden: ThreadedWarden, email: str) -> dict[str, Any]:
    flow = _api_flow(warden, "registration")
    body = {"method": "password", "traits": {"email": email}, "password": PASSWORD}
    response = urllib3.request("POST", f"{warden.public_url}/self-service/registration?flow={flow}", json=body)
    assert response.status == 200, response.data
    return dict(json.loads(response.data))


def _whoami(warden: ThreadedWarden, token: str) -> None:
    response = urllib3.request("GET", f"{warden.public_url}/sessions/whoami", headers={"X-Session-Token": token})
    assert response.status == 200, response.data


def test_both_pages_serve_the_same_families(warden: ThreadedWarden) -> None:
    names = family_names(warden.admin_url)
    assert {"warden_http_requests", "warden_selfservice_flows_started", "warden_bus_published"} <= names
    assert urllib3.request("GET", f"{warden.admin_url}/metrics/prometheus").status == 200
    assert urllib3.request("GET", f"{warden.public_url}/metrics").status == 404, "the admin port only"


def test_a_failed_login_counts_as_started_and_failed_for_login_by_password(warden: ThreadedWarden) -> None:
    before = scrape(warden.admin_url)
    assert _login(warden, "nobody-failed@example.com", "not the password").status == 400
    after = scrape(warden.admin_url)

    assert value(after, STARTED, type="login") == value(before, STARTED, type="login") + 1
    assert value(after, FAILED, type="login", method="password") == (
        value(before, FAILED, type="login", method="password") + 1
    )
    assert value(after, SUCCEEDED, type="login", method="password") == value(
        before, SUCCEEDED, type="login", method="password"
    )
    assert value(after, SUBMIT_COUNT, type="login", method="password") == (
        value(before, SUBMIT_COUNT, type="login", method="password") + 1
    ), "the login latency histogram has the submission"
    assert total(after, "warden_hashing_queue_wait_seconds_count") > total(
        before, "warden_hashing_queue_wait_seconds_count"
    ), "the password check went through the hashing queue"
    assert ("warden_hashing_queue_depth", frozenset()) in after


def test_a_method_no_strategy_claims_is_counted_as_none_not_as_what_the_client_typed(warden: ThreadedWarden) -> None:
    flow = _api_flow(warden, "login")
    body = {"method": "made-up-method", "identifier": "x@example.com", "password": "x"}
    assert urllib3.request("POST", f"{warden.public_url}/self-service/login?flow={flow}", json=body).status == 400
    samples = scrape(warden.admin_url)
    assert value(samples, FAILED, type="login", method="none") >= 1
    assert not any("made-up-method" in str(labels) for _, labels in samples)


def test_a_registration_counts_its_success_its_events_and_its_verification_mail(warden: ThreadedWarden) -> None:
    before = scrape(warden.admin_url)
    _register(warden, "metrics-registration@example.com")

    def moved() -> dict[Any, float] | None:
        now = scrape(warden.admin_url)
        return now if value(now, "warden_courier_messages_sent_total", channel="email") > 0 else None

    after = wait_until(moved)
    assert value(after, SUCCEEDED, type="registration", method="password") == (
        value(before, SUCCEEDED, type="registration", method="password") + 1
    )
    assert value(after, SUBMIT_COUNT, type="registration", method="password") > value(
        before, SUBMIT_COUNT, type="registration", method="password"
    )
    assert value(after, "warden_bus_published_total", type="identity.created") >= 1
    assert value(after, "warden_bus_published_total", type="courier.message.requested") >= 1
    assert value(after, "warden_bus_consumed_total", queue="courier.messages", outcome="ok") >= 1
    assert value(after, "warden_courier_messages_queued_total", channel="email") >= 1
    assert value(after, "warden_courier_messages_abandoned_total", channel="email") == 0
    for service in ("identity", "selfservice", "session", "courier"):
        assert ("warden_outbox_pending_events", frozenset({("service", service)})) in after
        assert ("warden_outbox_oldest_pending_age_seconds", frozenset({("service", service)})) in after


def test_whoami_counts_a_miss_then_hits(warden: ThreadedWarden) -> None:
    token = _register(warden, "metrics-whoami@example.com")["session_token"]
    before = scrape(warden.admin_url)
    _whoami(warden, token)
    _whoami(warden, token)
    _whoami(warden, token)
    after = scrape(warden.admin_url)

    lookups = "warden_session_cache_lookups_total"
    assert value(after, lookups, result="miss") - value(before, lookups, result="miss") == 1
    assert value(after, lookups, result="hit") - value(before, lookups, result="hit") == 2
    assert value(after, lookups, result="error") == 0
    assert value(after, "warden_dependency_up", dependency="cache") == 1
    assert value(after, "warden_dependency_up", dependency="bus") == 1
    assert value(after, "warden_dependency_up", dependency="database:0") == 1


def test_a_throttled_password_guess_counts_as_a_throttle_block_and_a_failed_login(warden: ThreadedWarden) -> None:
    email = "metrics-throttle@example.com"
    create_identity(warden.admin_url, email)
    for _ in range(FREE_FAILURES + 1):
        assert _login(warden, email, "wrong guess").status == 400
    before = scrape(warden.admin_url)
    assert _login(warden, email, PASSWORD).status == 429
    after = scrape(warden.admin_url)

    blocks = "warden_throttle_blocks_total"
    assert value(after, blocks, throttle="password") == value(before, blocks, throttle="password") + 1
    assert value(after, FAILED, type="login", method="password") == (
        value(before, FAILED, type="login", method="password") + 1
    )


def test_every_request_is_counted_by_route_and_status(warden: ThreadedWarden) -> None:
    before = scrape(warden.admin_url)
    urllib3.request("GET", f"{warden.public_url}/sessions/whoami")
    after = scrape(warden.admin_url)
    labels = {"port": "public", "method": "GET", "route": "/sessions/whoami", "status": "401"}
    assert (
        value(after, "warden_http_requests_total", **labels)
        == value(before, "warden_http_requests_total", **labels) + 1
    )


def test_settings_and_verification_count_their_outcomes_too(warden: ThreadedWarden) -> None:
    token = _register(warden, "metrics-settings@example.com")["session_token"]
    before = scrape(warden.admin_url)
    headers = {"X-Session-Token": token}
    flow = json.loads(urllib3.request("GET", f"{warden.public_url}/self-service/settings/api", headers=headers).data)
    changed = urllib3.request(
        "POST",
        f"{warden.public_url}/self-service/settings?flow={flow['id']}",
        json={"method": "password", "password": "Another-Quartz-Lantern-9921"},
        headers=headers,
    )
    assert changed.status == 200, changed.data
    verification = _api_flow(warden, "verification")
    wrong = urllib3.request(
        "POST",
        f"{warden.public_url}/self-service/verification?flow={verification}",
        json={"method": "code", "code": "000000"},
    )
    assert wrong.status == 200, wrong.data  # Kratos answers a wrong code with the flow
    after = scrape(warden.admin_url)

    for kind, outcome, method in (("settings", SUCCEEDED, "password"), ("verification", FAILED, "code")):
        assert value(after, outcome, type=kind, method=method) == value(before, outcome, type=kind, method=method) + 1
        assert value(after, STARTED, type=kind) == value(before, STARTED, type=kind) + 1
