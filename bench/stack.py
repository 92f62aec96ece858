"""What bench/courier.py, bench/soak.py and bench/whoami.py (with bench/check.py) share: a database
and a RabbitMQ virtual host of the run's own (dropped afterwards), child processes (`warden serve …`
on free ports, or a helper such as the floor server), their resident memory, and the machine's load
to print beside the figures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from resources import pg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, for tests.conftest
AMQP_BASE = os.environ.get("WARDEN_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672")


def free_port() -> int:
    """The tests' picker (tests/conftest.py): below Linux's ephemeral range and never handed out twice
    in a run. A port the kernel picked (bind to 0) is in that range, and an outgoing connection of
    another service could take it before the server bound it: the distributed soak failed that way."""
    from tests.conftest import free_port as pick

    return pick()


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database; yields its DSN."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    pg(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}?sslmode=disable"
    finally:
        pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True)


@contextmanager
def fresh_vhost(prefix: str) -> Iterator[str]:
    """A new RabbitMQ virtual host; yields its AMQP URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", name)
    try:
        _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield f"{AMQP_BASE}/{name}"
    finally:
        _rabbitmqctl("delete_vhost", name)


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


class Process:
    """`python ARGS…` as a child process, its output kept in a file; ready once every one of
    `ready_urls` answers with one of `ready_statuses` (a floor without a token answers 401)."""

    def __init__(
        self,
        name: str,
        args: list[str],
        env: Mapping[str, str],
        workdir: Path,
        ready_urls: list[str],
        ready_statuses: tuple[int, ...] = (200,),
    ) -> None:
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "w+")  # noqa: SIM115 (closed in stop)
        self._ready_urls, self._ready_statuses = ready_urls, ready_statuses
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            env={**os.environ, **env},
            cwd=workdir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60.0) -> Self:
        deadline = time.monotonic() + timeout
        pending = list(self._ready_urls)
        while pending:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"{self.name} did not start:\n{self.log_path.read_text()[-3000:]}")
            pending = [url for url in pending if status(url) not in self._ready_statuses]
            time.sleep(0.05)
        return self

    def rss_mib(self) -> float:
        return rss_mib(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self._log.closed:
            self._log.close()
        if self.proc.returncode not in (0, -signal.SIGTERM):
            print(f"warning: {self.name} exited with {self.proc.returncode} (log: {self.log_path})", file=sys.stderr)


class Warden(Process):
    """`warden serve [service]` as a child process on free ports."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], workdir: Path) -> None:
        self.public, self.admin, self.grpc = free_port(), free_port(), free_port()
        ports = {
            "SERVE_PUBLIC_PORT": str(self.public),
            "SERVE_ADMIN_PORT": str(self.admin),
            "SERVE_GRPC_PORT": str(self.grpc),
        }
        ready = [f"{self.url('public')}/health/ready", f"{self.url('admin')}/health/ready"]
        super().__init__(name, ["-m", "warden.cli", *args], {**env, **ports}, workdir, ready)

    def url(self, port: str) -> str:
        return f"http://127.0.0.1:{self.public if port == 'public' else self.admin}"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def migrate(env: Mapping[str, str], workdir: Path, config: Path | None = None) -> None:
    """`warden migrate sql` up, with `config` or (None) the environment alone."""
    with_config = ["-c", str(config)] if config is not None else []
    done = subprocess.run(
        [sys.executable, "-m", "warden.cli", "migrate", "sql", "-e", "--yes", *with_config],
        env={**os.environ, **env},
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"warden migrate failed:\n{done.stderr}")
