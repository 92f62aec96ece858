"""Fixtures shared by every tier: real servers on this machine, each test with its own database,
key prefix or exchange, so tests never collide with each other or with a running Warden.

Under CI (`CI=true`) a server that cannot be reached fails the test; elsewhere it skips it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import os
import random
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis as redis_sync
import urllib3

if TYPE_CHECKING:
    from tests.code_helpers import SmsSink
    from tests.smtp import SmtpServer

PG_ADMIN_DSN = os.environ.get("WARDEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("WARDEN_TEST_REDIS", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("WARDEN_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/")

# `urllib3.request`, which most tests call, gives up on an answer after 3 s by default: on a 2-core
# machine running two test workers (one may be starting four services and a browser), a settings
# submission once took longer, and a slow answer is not a wrong one. pytest-timeout still ends a hang.
urllib3.request.__kwdefaults__["timeout"] = 30.0


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_server(name: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: a missing server is a failure)")
    pytest.skip(message)


def _worker_ports(ports: tuple[int, int]) -> tuple[int, int]:
    """This pytest-xdist worker's own slice of `ports`, so that two workers never pick one port
    between one's check and its server's bind."""
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    width = (ports[1] - ports[0]) // count
    return ports[0] + worker * width, ports[0] + (worker + 1) * width - 1


# Below Linux's ephemeral range (32768-60999): a port the kernel hands out for outgoing connections
# (to PostgreSQL, RabbitMQ, Redis) can be taken between our check and the server's bind; these can't.
_TEST_PORTS = _worker_ports((20000, 32000))


# Ports handed out by this test run: a port is free until its server binds it, and a setup that asks
# for several before starting any (a cluster and the nginx in front of it) must not get one twice.
_handed_out: set[int] = set()


def free_port() -> int:
    """A port nobody listens on, on any address, and not handed out before in this run: the gRPC port
    binds the wildcard addresses (IPv4 and IPv6), so a port that is free on 127.0.0.1 alone can
    still be taken there."""
    for _ in range(100):
        port = random.randint(*_TEST_PORTS)
        if port not in _handed_out and all(_bindable(family, address, port) for family, address in _WILDCARDS):
            _handed_out.add(port)
            return port
    raise RuntimeError("no free port found for a test server")


_WILDCARDS = ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::"))


def _bindable(family: socket.AddressFamily, address: str, port: int) -> bool:
    try:
        with socket.socket(family) as s:
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((address, port))
    except OSError as exc:
        # A machine without IPv6 cannot have the port taken there either.
        return family == socket.AF_INET6 and exc.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL)
    return True


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free port, for one test module's mail."""
    from tests.smtp import serving  # tests.smtp imports this module

    yield from serving()


@pytest.fixture(scope="module")
def sms() -> Iterator[SmsSink]:
    """The HTTP endpoint the courier's SMS channel posts to, for one test module's texts."""
    from tests.code_helpers import SmsSink

    sink = SmsSink()
    yield sink
    sink.close()


@pytest.fixture
def postgres_server() -> None:
    require_server("PostgreSQL", "127.0.0.1", 5432)


def _pg_admin(statement: str) -> None:
    """Runs one statement on the maintenance database, on a loop of its own (callable anywhere)."""
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


def _fresh_pg_database() -> Iterator[str]:
    name = unique("warden_test")
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}?sslmode=disable"
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_dsn(postgres_server: None) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards (Kratos-style DSN)."""
    yield from _fresh_pg_database()


@pytest.fixture
def redis_url() -> str:
    require_server("Redis", "127.0.0.1", 6379)
    return REDIS_URL


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis_sync.Redis]:
    """A plain synchronous client, for a test that looks at Redis behind Warden's back."""
    client = redis_sync.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = unique("warden_test") + ":"
    yield prefix
    import redis as redis_sync

    try:
        client = redis_sync.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()
    except Exception:
        pass


@pytest.fixture
def amqp_url() -> str:
    require_server("RabbitMQ", "127.0.0.1", 5672)
    return AMQP_URL


@pytest.fixture
def exchange_name() -> str:
    return unique("warden_test")


@pytest.fixture(params=["sqlite", "postgres"])
def any_dsn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Runs a storage test once on SQLite (a file of the test's own) and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path}/warden.sqlite"
    else:
        require_server("PostgreSQL", "127.0.0.1", 5432)
        yield from _fresh_pg_database()


async def eventually(check, timeout: float = 10.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Polls `check()` (sync or async) until it returns something truthy, or fails."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


@pytest.fixture
def amqp_vhost(amqp_url: str) -> Iterator[str]:
    """A RabbitMQ virtual host of this test's own (an AMQP URL into it), deleted with all it holds."""
    import subprocess

    name = unique("warden_test")
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", name], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"], check=True, capture_output=True
    )
    try:
        yield f"amqp://guest:guest@127.0.0.1:5672/{name}"
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True)
