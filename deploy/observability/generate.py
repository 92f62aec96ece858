"""Writes the Grafana dashboards (`grafana/dashboards/*.json`: an overview and one per service) and
the Kubernetes PrometheusRule (`deploy/k8s/components/observability/prometheusrule.yaml`, the groups
of `prometheus/alerts.yml`, which kustomize cannot read from here). Run it after changing either (a
unit test fails until you do):

    .venv/bin/python deploy/observability/generate.py

Every query picks the services with the `job` variable (the Prometheus job: the Kubernetes Service
name under the ServiceMonitor, the compose service name under the compose profile).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
DASHBOARDS = HERE / "grafana" / "dashboards"
ALERTS = HERE / "prometheus" / "alerts.yml"
PROMETHEUS_RULE = HERE.parent / "k8s" / "components" / "observability" / "prometheusrule.yaml"
J = 'job=~"$job"'


def panel(title: str, unit: str, *queries: tuple[str, str], kind: str = "timeseries") -> dict[str, Any]:
    """A panel of (PromQL, legend) queries; `gridPos` is set when the dashboard lays them out."""
    return {
        "type": kind,
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(queries)
        ],
    }


def quantile(q: float, histogram: str, selector: str, by: str = "") -> str:
    group = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, sum by ({group}) (rate({histogram}_bucket{{{selector}}}[5m])))"


def http_panels() -> list[dict[str, Any]]:
    return [
        panel(
            "Requests by status",
            "reqps",
            (f"sum by (status) (rate(warden_http_requests_total{{{J}}}[5m]))", "{{status}}"),
        ),
        panel(
            "5xx share",
            "percentunit",
            (
                f'sum by (job) (rate(warden_http_requests_total{{{J}, status=~"5.."}}[5m]))'
                f" / sum by (job) (rate(warden_http_requests_total{{{J}}}[5m]))",
                "{{job}}",
            ),
        ),
        panel(
            "p95 latency by route",
            "s",
            (quantile(0.95, "warden_http_request_duration_seconds", J, "route"), "{{route}}"),
        ),
        panel(
            "Busiest routes",
            "reqps",
            (f"topk(8, sum by (route) (rate(warden_http_requests_total{{{J}}}[5m])))", "{{route}}"),
        ),
    ]


def outbox_panels(service: str) -> list[dict[str, Any]]:
    s = f'service="{service}"' if service else 'service=~".+"'
    return [
        panel(
            "Outbox: events waiting",
            "short",
            (f"max by (service) (warden_outbox_pending_events{{{s}}})", "{{service}}"),
        ),
        panel(
            "Outbox: age of the oldest waiting event",
            "s",
            (f"max by (service) (warden_outbox_oldest_pending_age_seconds{{{s}}})", "{{service}}"),
        ),
    ]


def bus_panels() -> list[dict[str, Any]]:
    return [
        panel(
            "Bus: published by type",
            "ops",
            (f"sum by (type) (rate(warden_bus_published_total{{{J}}}[5m]))", "{{type}}"),
        ),
        panel(
            "Bus: deliveries by queue and outcome",
            "ops",
            (f"sum by (queue, outcome) (rate(warden_bus_consumed_total{{{J}}}[5m]))", "{{queue}} {{outcome}}"),
        ),
        panel(
            "Bus: redeliveries and dead letters",
            "short",
            (f"sum by (queue) (increase(warden_bus_redelivered_total{{{J}}}[5m]))", "redelivered {{queue}}"),
            (f"sum by (queue) (increase(warden_bus_dead_lettered_total{{{J}}}[5m]))", "dead-lettered {{queue}}"),
        ),
    ]


def process_panels() -> list[dict[str, Any]]:
    return [
        panel("CPU per process", "percentunit", (f"rate(process_cpu_seconds_total{{{J}}}[5m])", "{{instance}}")),
        panel("Memory per process", "bytes", (f"process_resident_memory_bytes{{{J}}}", "{{instance}}")),
        panel(
            "Dependencies reached",
            "short",
            (f"min by (dependency) (warden_dependency_up{{{J}}})", "{{dependency}}"),
        ),
    ]


def flow_panels() -> list[dict[str, Any]]:
    return [
        panel(
            "Flows started",
            "ops",
            (f"sum by (type) (rate(warden_selfservice_flows_started_total{{{J}}}[5m]))", "{{type}}"),
        ),
        panel(
            "Flows succeeded",
            "ops",
            (
                f"sum by (type, method) (rate(warden_selfservice_flows_succeeded_total{{{J}}}[5m]))",
                "{{type}} {{method}}",
            ),
        ),
        panel(
            "Flows failed",
            "ops",
            (f"sum by (type, method) (rate(warden_selfservice_flows_failed_total{{{J}}}[5m]))", "{{type}} {{method}}"),
        ),
        panel(
            "Login latency",
            "s",
            *[
                (
                    quantile(q, "warden_selfservice_flow_submit_duration_seconds", f'{J}, type="login"'),
                    f"p{int(q * 100)}",
                )
                for q in (0.5, 0.95, 0.99)
            ],
        ),
        panel(
            "Registration latency",
            "s",
            *[
                (
                    quantile(q, "warden_selfservice_flow_submit_duration_seconds", f'{J}, type="registration"'),
                    f"p{int(q * 100)}",
                )
                for q in (0.5, 0.95, 0.99)
            ],
        ),
        panel(
            "Client rate-limit blocks",
            "ops",
            (f'sum(rate(warden_throttle_blocks_total{{{J}, throttle="client_ip"}}[5m]))', "client_ip"),
        ),
    ]


def identity_panels() -> list[dict[str, Any]]:
    return [
        panel(
            "Hashing queue: checks waiting",
            "short",
            (f"sum by (instance) (warden_hashing_queue_depth{{{J}}})", "{{instance}}"),
        ),
        panel(
            "Hashing queue: wait",
            "s",
            *[(quantile(q, "warden_hashing_queue_wait_seconds", J), f"p{int(q * 100)}") for q in (0.5, 0.99)],
        ),
        panel(
            "Hashing queue: refused (503)",
            "ops",
            (f"sum(rate(warden_hashing_queue_rejected_total{{{J}}}[5m]))", "refused"),
        ),
        panel(
            "Throttle blocks (429)",
            "ops",
            (f"sum by (throttle) (rate(warden_throttle_blocks_total{{{J}}}[5m]))", "{{throttle}}"),
        ),
    ]


def session_panels() -> list[dict[str, Any]]:
    whoami = f'{J}, route="/sessions/whoami"'
    return [
        panel(
            "whoami requests",
            "reqps",
            (f"sum by (status) (rate(warden_http_requests_total{{{whoami}}}[5m]))", "{{status}}"),
        ),
        panel(
            "whoami latency",
            "s",
            *[
                (quantile(q, "warden_http_request_duration_seconds", whoami), f"p{int(q * 100)}")
                for q in (0.5, 0.95, 0.99)
            ],
        ),
        panel(
            "Session cache lookups",
            "ops",
            (f"sum by (result) (rate(warden_session_cache_lookups_total{{{J}}}[5m]))", "{{result}}"),
        ),
        panel(
            "Session cache hit ratio",
            "percentunit",
            (
                f'sum(rate(warden_session_cache_lookups_total{{{J}, result="hit"}}[5m]))'
                f" / sum(rate(warden_session_cache_lookups_total{{{J}}}[5m]))",
                "hits",
            ),
        ),
    ]


def courier_panels() -> list[dict[str, Any]]:
    def by_channel(family: str, legend: str) -> tuple[str, str]:
        return f"sum by (channel) (rate({family}{{{J}}}[5m]))", f"{legend} {{{{channel}}}}"

    return [
        panel(
            "Messages",
            "ops",
            by_channel("warden_courier_messages_queued_total", "queued"),
            by_channel("warden_courier_messages_sent_total", "sent"),
        ),
        panel(
            "Failed attempts and abandoned messages",
            "ops",
            by_channel("warden_courier_send_failures_total", "failed attempt"),
            by_channel("warden_courier_messages_abandoned_total", "abandoned"),
        ),
        panel(
            "Web hook deliveries",
            "ops",
            (
                f"sum by (kind, outcome) (rate(warden_courier_webhook_deliveries_total{{{J}}}[5m]))",
                "{{kind}} {{outcome}}",
            ),
        ),
    ]


def overview_panels() -> list[dict[str, Any]]:
    return [
        panel(
            "Requests by service", "reqps", (f"sum by (job) (rate(warden_http_requests_total{{{J}}}[5m]))", "{{job}}")
        ),
        http_panels()[1],
        session_panels()[1],
        panel(
            "Logins and registrations",
            "ops",
            (
                f'sum by (type) (rate(warden_selfservice_flows_succeeded_total{{{J}, type=~"login|registration"}}[5m]))',
                "{{type}} succeeded",
            ),
            (
                f'sum by (type) (rate(warden_selfservice_flows_failed_total{{{J}, type=~"login|registration"}}[5m]))',
                "{{type}} failed",
            ),
        ),
        *outbox_panels(""),
        bus_panels()[2],
        courier_panels()[1],
        process_panels()[2],
        session_panels()[3],
    ]


SERVICES: dict[str, list[dict[str, Any]]] = {
    "overview": overview_panels(),
    "identity": [*identity_panels(), *http_panels(), *outbox_panels("identity"), *bus_panels(), *process_panels()],
    "selfservice": [*flow_panels(), *http_panels(), *outbox_panels("selfservice"), *bus_panels(), *process_panels()],
    "session": [*session_panels(), *http_panels(), *outbox_panels("session"), *bus_panels(), *process_panels()],
    "courier": [*courier_panels(), *http_panels(), *outbox_panels("courier"), *bus_panels(), *process_panels()],
}


def dashboard(name: str, panels: list[dict[str, Any]]) -> dict[str, Any]:
    laid_out = [
        {**p, "id": i + 1, "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8}}
        for i, p in enumerate(panels)
    ]
    job = "label_values(warden_http_requests_total, job)"
    return {
        "title": f"Warden / {name.capitalize()}",
        "uid": f"warden-{name}",
        "tags": ["warden"],
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "browser",
        "templating": {
            "list": [
                {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus"},
                {
                    "name": "job",
                    "label": "Job",
                    "type": "query",
                    "datasource": {"type": "prometheus", "uid": "${datasource}"},
                    "query": {"query": job, "refId": "job"},
                    "definition": job,
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".+",
                    "current": {"text": "All", "value": "$__all"},
                    "refresh": 2,
                },
            ]
        },
        "panels": laid_out,
    }


def dashboards() -> dict[str, str]:
    """File name -> JSON text of each dashboard."""
    return {f"{name}.json": json.dumps(dashboard(name, panels), indent=2) + "\n" for name, panels in SERVICES.items()}


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings (the longer PromQL expressions) as `|` blocks, as alerts.yml has them."""


def _block(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_BlockDumper.add_representer(str, _block)


def prometheus_rule() -> str:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "warden", "labels": {"app.kubernetes.io/name": "warden"}},
        "spec": {"groups": groups},
    }
    header = "# Generated by deploy/observability/generate.py from deploy/observability/prometheus/alerts.yml.\n"
    return header + yaml.dump(rule, Dumper=_BlockDumper, sort_keys=False, width=120, allow_unicode=True)


def main() -> None:
    DASHBOARDS.mkdir(parents=True, exist_ok=True)
    for name, text in dashboards().items():
        (DASHBOARDS / name).write_text(text, encoding="utf-8")
    PROMETHEUS_RULE.parent.mkdir(parents=True, exist_ok=True)
    PROMETHEUS_RULE.write_text(prometheus_rule(), encoding="utf-8")


if __name__ == "__main__":
    main()
