"""A real Prometheus for end-to-end tests: Debian's `prometheus` binary, run by the test on a free
port with storage in the test's directory, a one-second scrape and evaluation interval and Warden's
alert rules; stopped by the test. Under CI=true a missing binary fails the test, elsewhere it skips."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml

from tests.conftest import free_port
from tests.e2e.warden_process import stop_process

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "observability" / "prometheus" / "alerts.yml"
DEBIAN_PROMETHEUS = Path("/usr/bin/prometheus")
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
    def __init__(self, binary: Path, directory: Path, jobs: Mapping[str, Sequence[str]]) -> None:
        """`jobs`: job name -> the HOST:PORT of each admin port it scrapes."""
        directory.mkdir(parents=True, exist_ok=True)
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(ALERTS)],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": list(targets)}]} for job, targets in jobs.items()
            ],
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
