"""Reading a Warden's /metrics page the way Prometheus does (prometheus_client's own parser)."""

from __future__ import annotations

from collections.abc import Mapping

import urllib3
from prometheus_client.parser import text_string_to_metric_families

Samples = Mapping[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(admin_url: str, path: str = "/metrics") -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = urllib3.request("GET", f"{admin_url}{path}")
    assert response.status == 200, response.data
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.data.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample with exactly these labels, or 0 when the series does not exist (yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of `name` that carries these labels (and any others)."""
    wanted = set(labels.items())
    return sum(v for (n, found), v in samples.items() if n == name and wanted <= found)


def family_names(admin_url: str) -> set[str]:
    """Every family the page declares, with or without samples yet."""
    response = urllib3.request("GET", f"{admin_url}/metrics")
    return {family.name for family in text_string_to_metric_families(response.data.decode())}
