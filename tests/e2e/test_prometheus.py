"""A real Prometheus (Debian's `prometheus` package, started by the test on a free port with storage of
its own and a one-second scrape interval, Warden's alert rules loaded) scrapes a running Warden:
- all in one process: its HTTP API answers a query for every metric family Warden exports, after a
  user's journey made them move (a sign-up with its verification mail, whoami, failed logins up to
  the throttle);
- the distributed setup of tests/e2e/test_distributed.py (five processes, RabbitMQ, PostgreSQL,
  Redis), one job per service as the compose profile and the ServiceMonitor name them: each job's
  families move for what that service did, and no alert fires on a healthy run.
Under CI=true a missing prometheus binary fails the tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import urllib3
import yaml

from services.identity.throttle import FREE_FAILURES
from shared.metrics import Metrics
from tests.e2e.prometheus import ALERTS, Prometheus, require_prometheus, until
from tests.e2e.test_distributed import (  # noqa: F401  (the cluster fixture and what it needs)
    EMAIL,
    Cluster,
    cluster,
    json_call,
    stopwatch,
    submit_api_flow,
    whoami,
)
from tests.e2e.test_distributed import (
    PASSWORD as CLUSTER_PASSWORD,
)
from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import PASSWORD, selfservice_settings

SERIES_OF = {"counter": "_total", "histogram": "_count", "gauge": ""}


@pytest.fixture
def warden(tmp_path: Path) -> Iterator[ThreadedWarden]:
    flows = {"verification": {"enabled": True}, "recovery": {"enabled": True}}
    settings = selfservice_settings(tmp_path, f"sqlite://{tmp_path}/warden.sqlite", flows=flows)
    with running_warden(settings) as running:
        yield running


@pytest.fixture
def prometheus(tmp_path: Path, warden: ThreadedWarden) -> Iterator[Prometheus]:
    binary = require_prometheus()
    server = Prometheus(binary, tmp_path / "prometheus", {"warden": [warden.admin_url.removeprefix("http://")]})
    try:
        until(server.ready, "prometheus ready")
        yield server
    finally:
        server.stop()


def a_users_journey(warden: ThreadedWarden) -> None:
    """What makes every family move: a sign-up (events, the verification mail), whoami twice (a
    cache miss, then a hit), failed logins up to the throttle's block."""
    public = warden.public_url

    def flow(kind: str) -> str:
        return str(json.loads(urllib3.request("GET", f"{public}/self-service/{kind}/api").data)["id"])

    body = {"method": "password", "traits": {"email": "prometheus@example.com"}, "password": PASSWORD}
    signed_up = urllib3.request("POST", f"{public}/self-service/registration?flow={flow('registration')}", json=body)
    assert signed_up.status == 200, signed_up.data
    token = json.loads(signed_up.data)["session_token"]
    for _ in range(2):
        whoami = urllib3.request("GET", f"{public}/sessions/whoami", headers={"X-Session-Token": token})
        assert whoami.status == 200
    guess = {"method": "password", "identifier": "prometheus@example.com", "password": "wrong guess"}
    statuses = [
        urllib3.request("POST", f"{public}/self-service/login?flow={flow('login')}", json=guess).status
        for _ in range(FREE_FAILURES + 2)
    ]
    assert statuses[-1] == 429 and 400 in statuses


def test_a_real_prometheus_scrapes_warden_and_answers_for_every_family(
    warden: ThreadedWarden, prometheus: Prometheus
) -> None:
    a_users_journey(warden)
    families = {f.name: f.type for f in Metrics().registry.collect() if f.name.startswith("warden_")}
    wanted = {name + SERIES_OF[kind] for name, kind in families.items()} | {"process_cpu_seconds_total"}

    def answered() -> set[str]:
        return {name for name in wanted if prometheus.query(name)}

    until(lambda: answered() == wanted, f"a series of each of {sorted(wanted - answered())}")
    (target,) = prometheus.api("targets")["activeTargets"]
    assert target["health"] == "up" and target["labels"]["job"] == "warden"

    def value(expr: str) -> float:
        found = prometheus.query(expr)
        return float(found[0]["value"][1]) if found else 0.0

    # The journey, as Prometheus saw it.
    until(
        lambda: value('warden_selfservice_flows_failed_total{type="login", method="password"}') >= FREE_FAILURES,
        "failed logins",
    )
    until(
        lambda: value('warden_selfservice_flows_succeeded_total{type="registration", method="password"}') == 1,
        "the sign-up",
    )
    until(lambda: value('warden_throttle_blocks_total{throttle="password"}') >= 1, "throttle block")
    until(lambda: value('warden_session_cache_lookups_total{result="hit"}') >= 1, "cache hit")
    until(lambda: value('warden_courier_messages_sent_total{channel="email"}') >= 1, "verification mail sent")
    until(lambda: value('warden_bus_published_total{type="identity.created"}') >= 1, "identity.created published")
    until(lambda: value('warden_dependency_up{dependency="cache"}') == 1, "cache up")
    p99 = 'histogram_quantile(0.99, sum by (le) (rate(warden_http_request_duration_seconds_bucket{route="/sessions/whoami"}[1m])))'
    until(lambda: prometheus.query(p99), "whoami's p99, as the WardenWhoamiSlow alert computes it")

    groups = prometheus.api("rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    alerts = [r["alert"] for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]
    assert alerts and set(alerts) <= {rule["name"] for rule in rules}, "Warden's alert rules are loaded"
    assert all(rule["health"] in ("ok", "unknown") for rule in rules), [r for r in rules if r["health"] == "err"]
    until(lambda: all(r["health"] == "ok" for g in prometheus.api("rules")["groups"] for r in g["rules"]), "rules ran")
    firing = {a["labels"]["alertname"] for a in prometheus.api("alerts")["alerts"]}
    assert not firing & {"WardenCacheUnreachable", "WardenHigh5xxRate", "WardenDeadLetters"}, firing


def value(prometheus: Prometheus, expr: str) -> float:
    found = prometheus.query(expr)
    return float(found[0]["value"][1]) if found else 0.0


async def test_a_real_prometheus_scrapes_each_service_of_the_distributed_setup_as_its_own_job(
    cluster: Cluster,  # noqa: F811
    tmp_path: Path,
) -> None:
    binary = require_prometheus()
    jobs: dict[str, list[str]] = {}
    for name, process in cluster.processes.items():
        jobs.setdefault(name.split("-")[0], []).append(process.url("admin").removeprefix("http://"))
    prometheus = Prometheus(binary, tmp_path / "prometheus", jobs)
    try:
        until(prometheus.ready, "prometheus ready")
        async with aiohttp.ClientSession() as http:
            body = {"method": "password", "traits": {"email": EMAIL}, "password": CLUSTER_PASSWORD}
            token = (await submit_api_flow(http, cluster.public, "registration", body))["session_token"]
            for _ in range(3):
                assert (await whoami(http, cluster.public, token))[0] == 200
            identity_id = (await whoami(http, cluster.public, token))[1]["identity"]["id"]
            assert (await json_call(http, "DELETE", f"{cluster.admin}/admin/identities/{identity_id}"))[0] == 204

        def seen(expr: str, at_least: float = 1.0) -> bool:
            return value(prometheus, expr) >= at_least

        def all_up() -> bool:
            targets = prometheus.api("targets")["activeTargets"]
            return len(targets) == len(cluster.processes) and all(t["health"] == "up" for t in targets)

        until(all_up, "every target up")
        targets = prometheus.api("targets")["activeTargets"]
        assert sorted({t["labels"]["job"] for t in targets}) == ["courier", "identity", "selfservice", "session"]
        assert len(targets) == len(cluster.processes), "both session replicas under job session"
        checks = {
            'sum(warden_selfservice_flows_succeeded_total{job="selfservice", type="registration", method="password"})': 1,
            'sum(warden_bus_published_total{job="identity", type="identity.deleted"})': 1,
            'sum(warden_bus_consumed_total{job="session", queue="session.identity-changes", outcome="ok"})': 1,
            'sum(warden_session_cache_lookups_total{job="session", result="hit"})': 1,
            'count(warden_dependency_up{dependency="bus"} == 1)': len(cluster.processes),
            'count(warden_dependency_up{dependency="cache"} == 1)': len(cluster.processes),
        }
        for expr, at_least in checks.items():
            until(lambda expr=expr, at_least=at_least: seen(expr, at_least), expr)
        for service in jobs:
            outbox = f'warden_outbox_pending_events{{job="{service}", service="{service}"}}'
            until(lambda outbox=outbox: prometheus.query(outbox), f"the {service} outbox, from its own job")
        until(lambda: all(r["health"] == "ok" for g in prometheus.api("rules")["groups"] for r in g["rules"]), "rules")
        firing = {a["labels"]["alertname"] for a in prometheus.api("alerts")["alerts"]}
        assert not firing, f"alerts on a healthy run: {firing}"
    finally:
        prometheus.stop()
