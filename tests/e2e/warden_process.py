"""Starting real `warden` processes for end-to-end tests, and waiting for them."""

from __future__ import annotations

import http.client
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.conftest import free_port


class WardenProcess:
    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        ports: tuple[int, int, int] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """`ports` (public, admin, gRPC), when the others must know them before this one starts;
        `tls`, a client context trusting the certificate both ports serve when they serve HTTPS."""
        self.public_port, self.admin_port, self.grpc_port = ports or (free_port(), free_port(), free_port())
        self.tls = tls
        full_env = {k: v for k, v in os.environ.items() if k not in {"DSN"}}
        full_env.update(env)
        full_env.update(
            SERVE_PUBLIC_PORT=str(self.public_port),
            SERVE_ADMIN_PORT=str(self.admin_port),
            SERVE_GRPC_PORT=str(self.grpc_port),
        )
        full_env.setdefault("LOG_LEVEL", "warning")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "warden.cli", *args],
            env=full_env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def url(self, port: str) -> str:
        scheme = "http" if self.tls is None else "https"
        return f"{scheme}://127.0.0.1:{self.public_port if port == 'public' else self.admin_port}"

    def wait_ready(self, timeout: float = 15.0) -> float:
        """Seconds until /health/ready answered 200 on both ports."""
        started = time.monotonic()
        pending = {"public", "admin"}
        while pending:
            if self.proc.poll() is not None:
                raise AssertionError(f"warden exited with {self.proc.returncode}: {self.proc.stderr.read()}")  # type: ignore[union-attr]
            for port in list(pending):
                if status(self.url(port) + "/health/ready", self.tls) == 200:
                    pending.discard(port)
            if time.monotonic() - started > timeout:
                self.stop()
                raise AssertionError(f"not ready within {timeout}s: {pending}; stderr: {self.proc.stderr.read()}")  # type: ignore[union-attr]
            time.sleep(0.05)
        return time.monotonic() - started

    def stop(self, timeout: float = 15.0) -> int:
        return stop_process(self.proc, signal.SIGTERM, timeout)


def stop_process(proc: subprocess.Popen, sig: int, timeout: float) -> int:  # type: ignore[type-arg]
    """Asks a process to stop with `sig`, kills it if it has not after `timeout`; its exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def status(url: str, tls: ssl.SSLContext | None = None) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2, context=tls) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, http.client.HTTPException):  # nothing there yet, or something else on the port
        return 0


def run_cli(
    args: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 60, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`warden <args>` to its end; `stdin`, when given, is what it reads on standard input."""
    full_env = {k: v for k, v in os.environ.items() if k not in {"DSN"}}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "warden.cli", *args],
        env=full_env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def distributed_env(dsn: str, bus_url: str, cache_url: str, cache_prefix: str, internal_token: str) -> dict[str, str]:
    """The environment every process of a distributed test shares: its own database, virtual host
    and cache keys, and the internal token the services trust each other by."""
    return {
        "DSN": dsn,
        "BUS_URL": bus_url,
        "CACHE_URL": cache_url,
        "CACHE_PREFIX": cache_prefix,
        "SERVICES_INTERNAL_TOKEN": internal_token,
    }
