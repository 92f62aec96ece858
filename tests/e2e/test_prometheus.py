"""A real Prometheus (Debian's `prometheus` package, started by the test on a free port with storage of
its own and a one-second scrape interval) scrapes a running Warden with Warden's alert rules loaded,
and its HTTP API answers a query for every metric family Warden exports, after a user's journey
made them move: a sign-up (with its verification mail), whoami, a failed and a throttled login.
Under CI=true a missing prometheus binary fails the test."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml

from services.identity.throttle import FREE_FAILURES
from shared.metrics import Metrics
from tests.conftest import free_port
from tests.e2e.warden_process import stop_process
from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import PASSWORD, selfservice_settings

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "observability" / "prometheus" / "alerts.yml"
DEBIAN_PROMETHEUS = Path("/usr/bin/prometheus")
SERIES_OF = {"counter": "_total", "histogram": "_count", "gauge": ""}
DEADLINE_SECONDS = 60.0


def require_prometheus() -> Path:
    found = shutil.which("prometheus")
    if found:
        return Path(found)
    if os.access(DEBIAN_PROMETHEUS, os.X_OK):
        return DEBIAN_PROMETHEUS
    message = "prometheus is not installed (Debian: apt-get install prometheus; .ci/run installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: a missing server is a failure)")
    pytest.skip(message)


def until(check: Any, what: str, deadline: float = DEADLINE_SECONDS) -> Any:
    ends = time.monotonic() + deadline
    while not (result := check()):
        if time.monotonic() > ends:
            raise AssertionError(f"{what}: not within {deadline:.0f}s")
        time.sleep(0.25)
    return result


class Prometheus:
    def __init__(self, binary: Path, directory: Path, target: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(ALERTS)],
            "scrape_configs": [{"job_name": "warden", "static_configs": [{"targets": [target]}]}],
        }
        (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = directory / "prometheus.log"
        command = [
            str(binary),
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address={self.url.removeprefix('http://')}",
            "--log.level=warn",
        ]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
        try:
            return urllib3.request("GET", f"{self.url}/-/ready", retries=False, timeout=2).status == 200
        except urllib3.exceptions.HTTPError:
            return False

    def api(self, path: str, **params: str) -> Any:
        response = urllib3.request("GET", f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}", timeout=5)
        body = json.loads(response.data)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return list(self.api("query", query=expr)["result"])

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGTERM, 10)


@pytest.fixture
def warden(tmp_path: Path) -> Iterator[ThreadedWarden]:
    flows = {"verification": {"enabled": True}, "recovery": {"enabled": True}}
    settings = selfservice_settings(tmp_path, f"sqlite://{tmp_path}/warden.sqlite", flows=flows)
    with running_warden(settings) as running:
        yield running


@pytest.fixture
def prometheus(tmp_path: Path, warden: ThreadedWarden) -> Iterator[Prometheus]:
    binary = require_prometheus()
    server = Prometheus(binary, tmp_path / "prometheus", warden.admin_url.removeprefix("http://"))
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
