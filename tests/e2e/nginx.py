"""A real nginx for end-to-end tests: run in the foreground from a prefix directory of the test's own
with a config made by `warden routes --nginx --full`, so that it needs no privilege and leaves nothing
behind; stopped by the test."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.warden_process import stop_process

DEBIAN_NGINX = Path("/usr/sbin/nginx")  # not on a non-root user's PATH


def find_nginx() -> Path | None:
    found = shutil.which("nginx")
    if found:
        return Path(found)
    return DEBIAN_NGINX if os.access(DEBIAN_NGINX, os.X_OK) else None


def require_nginx() -> Path:
    """The nginx binary; under CI (`CI=true`) a missing nginx fails the test, elsewhere it skips it."""
    nginx = find_nginx()
    if nginx is not None:
        return nginx
    message = "nginx is not installed (Debian: apt-get install nginx-light)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: a missing server is a failure)")
    pytest.skip(message)


class Nginx:
    def __init__(self, binary: Path, prefix: Path, config: str) -> None:
        self.binary, self.prefix = binary, prefix
        prefix.mkdir(parents=True, exist_ok=True)
        self.config = prefix / "nginx.conf"
        self.config.write_text(config)
        checked = subprocess.run(self._command("-t", "-q"), capture_output=True, text=True, timeout=30)
        if checked.returncode != 0:
            raise AssertionError(f"nginx refused the generated config: {checked.stderr}")
        self.proc = subprocess.Popen(self._command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _command(self, *flags: str) -> list[str]:
        # `-e`: nothing is written outside the prefix, not even before the config is read.
        return [
            str(self.binary),
            *flags,
            "-e",
            str(self.prefix / "error.log"),
            "-p",
            str(self.prefix),
            "-c",
            str(self.config),
        ]

    def wait_listening(self, *ports: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        for port in ports:
            while not _accepts(port):
                if self.proc.poll() is not None:
                    raise AssertionError(f"nginx exited with {self.proc.returncode}: {self.errors()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"nginx is not listening on {port} within {timeout}s: {self.errors()}")
                time.sleep(0.02)

    def errors(self) -> str:
        log = self.prefix / "error.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def stop(self, timeout: float = 10.0) -> int:
        """SIGQUIT: a graceful shutdown, as `nginx -s quit`; exits 0."""
        return stop_process(self.proc, signal.SIGQUIT, timeout)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
