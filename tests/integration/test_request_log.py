"""Kratos's `serve.<port>.request_log.disable_for_health`, read from the config by a whole Warden:
the probes' lines leave the access log of the port that asks, every other line stays."""

from __future__ import annotations

import logging
import urllib.request
from pathlib import Path

import pytest

from tests.factories import running_warden, settings_for


def test_disable_for_health_applies_to_the_port_that_sets_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = settings_for(
        tmp_path,
        f"sqlite://{tmp_path}/warden.db",
        {"serve": {"public": {"request_log": {"disable_for_health": True}}}},
    )
    with running_warden(settings) as warden, caplog.at_level(logging.INFO, logger="warden.http"):
        for base in (warden.public_url, warden.admin_url):
            for path in ("/health/alive", "/health/ready", "/version"):
                with urllib.request.urlopen(base + path, timeout=5) as response:
                    assert response.status == 200
    lines = {(r.__dict__["port"], r.getMessage()) for r in caplog.records if r.name == "warden.http"}
    assert lines == {
        ("public", "GET /version 200"),
        ("admin", "GET /health/alive 200"),
        ("admin", "GET /health/ready 200"),
        ("admin", "GET /version 200"),
    }
