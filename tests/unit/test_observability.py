"""deploy/observability, checked without a cluster: the alert rules pass Prometheus's own promtool
(`check rules`, and `test rules` with a case that fires each alert), the dashboards and the
Kubernetes PrometheusRule are what the generator makes, every query reads only metrics Warden
exports, the docs explain every metric family and every alert, and the optional wiring (kustomize
component, docker-compose profile) points at the services as they are deployed."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from shared.metrics import Metrics
from warden.routes import ADMIN_PORT
from warden.services import SERVICE_NAMES

ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = ROOT / "deploy" / "observability"
RULES = OBSERVABILITY / "prometheus" / "alerts.yml"
RULE_TESTS = OBSERVABILITY / "prometheus" / "alerts.test.yml"
DASHBOARDS = OBSERVABILITY / "grafana" / "dashboards"
COMPONENT = ROOT / "deploy" / "k8s" / "components" / "observability"
DOCS = ROOT / "docs" / "observability.md"
# Series Prometheus itself adds to every target.
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"), "gauge": ("",)}


def promtool() -> str:
    """Debian's prometheus package ships it (.ci/run installs it); under CI=true it must be there."""
    found = shutil.which("promtool") or ("/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is not installed (.ci/run installs Debian's prometheus package)")
        pytest.skip("promtool is not installed")
    return found


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_observability", OBSERVABILITY / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def alerts() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def exported_families() -> dict[str, str]:
    """Name -> type of every family a Warden process's registry holds (with or without samples)."""
    return {family.name: family.type for family in Metrics().registry.collect()}


def exported_series_names() -> set[str]:
    return {name + suffix for name, kind in exported_families().items() for suffix in SUFFIXES[kind]}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers before a selector or a range, and
    every warden_ / process_ identifier wherever it stands (label names and functions are neither)."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    selected = set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{\[]", without_strings))
    selected -= {"by", "without", "on", "ignoring", "group_left", "group_right"}
    return selected | set(re.findall(r"\b((?:warden|process)_[a-z0-9_]+)", without_strings))


def dashboard_queries() -> list[tuple[str, str, str]]:
    return [
        (path.name, panel["title"], target["expr"])
        for path in sorted(DASHBOARDS.glob("*.json"))
        for panel in json.loads(path.read_text())["panels"]
        for target in panel["targets"]
    ]


# --- alert rules --------------------------------------------------------------------------------------


def test_alert_rules_pass_promtool_check() -> None:
    result = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in result.stdout


def test_alert_rule_tests_pass_promtool() -> None:
    result = subprocess.run(
        [promtool(), "test", "rules", RULE_TESTS.name],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=RULE_TESTS.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_case_that_fires_it_and_each_says_what_to_do() -> None:
    cases = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fired = {check["alertname"] for case in cases for check in case["alert_rule_test"] if check["exp_alerts"]}
    names = [rule["alert"] for rule in alerts()]
    assert set(names) == fired
    assert {"WardenOutboxBacklogGrowing", "WardenDeadLetters", "WardenCourierAbandoning", "WardenHigh5xxRate"} <= fired
    assert {"WardenWhoamiSlow", "WardenCacheUnreachable"} <= fired
    for rule in alerts():
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert {"summary", "description", "runbook"} <= rule["annotations"].keys(), rule["alert"]


def test_alert_rules_read_only_metrics_warden_exports() -> None:
    known = exported_series_names()
    for rule in alerts():
        used = metric_names(rule["expr"])
        assert used and used <= known, (rule["alert"], used - known)


# --- dashboards ---------------------------------------------------------------------------------------


def test_dashboards_and_the_prometheus_rule_are_what_the_generator_makes() -> None:
    made = generator()
    expected = made.dashboards()
    assert sorted(expected) == sorted(p.name for p in DASHBOARDS.glob("*.json"))
    stale = [name for name, text in expected.items() if (DASHBOARDS / name).read_text(encoding="utf-8") != text]
    stale += (
        [] if (COMPONENT / "prometheusrule.yaml").read_text(encoding="utf-8") == made.prometheus_rule() else ["rule"]
    )
    assert not stale, f"{stale} are stale: run .venv/bin/python deploy/observability/generate.py"


def test_an_overview_and_one_dashboard_per_service() -> None:
    assert sorted(p.stem for p in DASHBOARDS.glob("*.json")) == sorted([*SERVICE_NAMES, "overview"])
    for path in DASHBOARDS.glob("*.json"):
        board = json.loads(path.read_text())
        assert board["uid"] == f"warden-{path.stem}"
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)) and all(panel["targets"] for panel in board["panels"])


@pytest.mark.parametrize(("dashboard", "title", "expr"), dashboard_queries())
def test_dashboard_queries_read_only_metrics_warden_exports(dashboard: str, title: str, expr: str) -> None:
    used = metric_names(expr)
    unknown = used - exported_series_names() - PROMETHEUS_OWN
    assert used and not unknown, f"{dashboard} / {title}: {sorted(unknown)}"


def test_every_family_is_on_some_dashboard() -> None:
    shown = {name for _, _, expr in dashboard_queries() for name in metric_names(expr)}
    for family, kind in exported_families().items():
        if family.startswith("process_") and family not in ("process_cpu_seconds", "process_resident_memory_bytes"):
            continue
        assert any(family + suffix in shown for suffix in SUFFIXES[kind]), family


# --- docs ---------------------------------------------------------------------------------------------


def test_docs_explain_every_family_and_every_alert_with_its_runbook() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    for family, kind in exported_families().items():
        if family.startswith("process_"):
            continue
        name = family + ("_total" if kind == "counter" else "")
        assert f"`{name}`" in docs, f"docs/observability.md does not explain {name}"
    for rule in alerts():
        assert f"### {rule['alert']}" in docs, f"docs/observability.md has no section for {rule['alert']}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/observability.md" in readme


# --- wiring: Kubernetes and docker-compose ----------------------------------------------------------


def test_service_monitor_scrapes_the_admin_port_of_every_warden_service() -> None:
    (monitor,) = yaml.safe_load_all((COMPONENT / "servicemonitor.yaml").read_text())
    base = ROOT / "deploy" / "k8s" / "base"
    services = [
        doc
        for name in SERVICE_NAMES
        for doc in yaml.safe_load_all((base / f"{name}.yaml").read_text())
        if doc and doc["kind"] == "Service"
    ]
    assert len(services) == len(SERVICE_NAMES)
    for service in services:
        labels = service["metadata"]["labels"]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert labels[monitor["spec"]["jobLabel"]] == service["metadata"]["name"], "job = the service's name"
        (endpoint,) = monitor["spec"]["endpoints"]
        assert {p["name"]: p["port"] for p in service["spec"]["ports"]}[endpoint["port"]] == ADMIN_PORT
        assert endpoint["path"] == "/metrics"


def kustomize() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    return ["kubectl", "kustomize"] if shutil.which("kubectl") else None


@pytest.mark.skipif(kustomize() is None, reason="neither kustomize nor kubectl is installed")
def test_the_component_adds_the_monitor_and_the_rules_to_an_overlay() -> None:
    overlay = ROOT / "deploy" / "k8s" / "overlays" / "example-observability"
    built = subprocess.run([*kustomize(), str(overlay)], capture_output=True, text=True, timeout=60, check=True)  # type: ignore[misc]
    objects = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
    added = {doc["kind"]: doc for doc in objects if doc["apiVersion"] == "monitoring.coreos.com/v1"}
    assert sorted(added) == ["PrometheusRule", "ServiceMonitor"]
    assert {doc["metadata"]["namespace"] for doc in added.values()} == {"warden-example"}
    assert [r["alert"] for g in added["PrometheusRule"]["spec"]["groups"] for r in g["rules"]] == [
        r["alert"] for r in alerts()
    ]
    assert len([doc for doc in objects if doc["kind"] == "Deployment"]) == len(SERVICE_NAMES), "the example, whole"


def test_compose_profile_scrapes_every_service_with_the_alert_rules_and_provisions_the_dashboards() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    prometheus, grafana = compose["prometheus"], compose["grafana"]
    assert prometheus["profiles"] == grafana["profiles"] == ["observability"]
    assert "profiles" not in compose["identity"], "Warden itself runs without the profile"
    config_path = OBSERVABILITY / "prometheus" / "prometheus.yml"
    config = yaml.safe_load(config_path.read_text())
    jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert jobs == {name: [f"{name}:{ADMIN_PORT}"] for name in SERVICE_NAMES}
    assert config["rule_files"] == ["alerts.yml"]
    mounts = {m.split(":")[0]: m.split(":")[1] for m in prometheus["volumes"] + grafana["volumes"]}
    for host in (h for h in mounts if h.startswith("./")):
        assert host.startswith("./deploy/observability/") and (ROOT / host).exists(), host
    result = subprocess.run(
        [promtool(), "check", "config", str(config_path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
