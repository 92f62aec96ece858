"""The distributed setup as an operator runs it, on this machine: `warden migrate`, the four services
as separate `warden serve <service>` processes (the session service twice) on the real PostgreSQL,
RabbitMQ and Redis, and a real nginx in front whose config `warden routes --nginx --full` generated.
A user registers, logs in, is recognised by either session replica, is found and deleted through
the admin API, and is refused once the deletion event reaches the session service; all through
nginx, which routes the admin API only on its admin listener and the internal API nowhere."""

from __future__ import annotations

import base64
import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from shared.grpc.gen.warden.identity.v1 import identity_pb2, identity_pb2_grpc
from shared.grpc.gen.warden.session.v1 import session_pb2, session_pb2_grpc
from tests.conftest import free_port
from tests.e2e.nginx import Nginx, require_nginx
from tests.e2e.warden_process import WardenProcess, distributed_env, run_cli
from tests.factories import EMAIL_SCHEMA

INTERNAL_TOKEN = "e2e-distributed-internal-token"
# Start order: each service learns the internal URLs of those started before it, as in docker-compose.
REPLICAS = (
    ("identity", "identity"),
    ("session-a", "session"),
    ("session-b", "session"),
    ("selfservice", "selfservice"),
    ("courier", "courier"),
)
EMAIL, PASSWORD = "grace.hopper@example.com", "cobol-1959-harvard-mark"
WHOAMI_CALLS = 6


@pytest.fixture
def stopwatch() -> Iterator[None]:
    """Set up first and torn down last: the time printed covers creating and dropping the database,
    the virtual host and the Redis keys too."""
    started = time.monotonic()
    yield
    print(f"\n[test_distributed] whole test, set-up and clean-up included: {time.monotonic() - started:.1f} s")


@dataclass
class Cluster:
    processes: dict[str, WardenProcess]
    public: str  # nginx's public listener
    admin: str  # nginx's admin listener
    grpc: str  # nginx's gRPC listener (HOST:PORT)

    def session_replicas(self) -> list[WardenProcess]:
        return [self.processes["session-a"], self.processes["session-b"]]


def write_config(directory: Path, public_base_url: str) -> Path:
    (directory / "identity.schema.json").write_text(json.dumps(EMAIL_SCHEMA))
    config: dict[str, Any] = {
        # nginx, on this machine, is the proxy whose X-Forwarded-For names the client.
        "serve": {"public": {"base_url": public_base_url, "trusted_proxies": ["127.0.0.1"]}},
        "identity": {
            "default_schema_id": "default",
            "schemas": [{"id": "default", "url": f"file://{directory}/identity.schema.json"}],
        },
        "selfservice": {
            "default_browser_return_url": "http://127.0.0.1:4455/",
            "flows": {"registration": {"after": {"password": {"hooks": [{"hook": "session"}]}}}},
        },
        "secrets": {
            "cookie": ["e2e-distributed-cookie-secret-0123456789"],
            "pagination": ["e2e-distributed-pagination-secret-0123"],
        },
        "log": {"level": "warning"},
    }
    path = directory / "kratos.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_services(config: Path, env: dict[str, str], cwd: Path) -> dict[str, WardenProcess]:
    ports = {name: (free_port(), free_port(), free_port()) for name, _ in REPLICAS}
    env = dict(env)
    for name, service in REPLICAS:
        # Every service knows where the others are, as in docker-compose and Kubernetes. Only the
        # first session replica is announced: there is no name that balances between them here
        # (docker-compose and Kubernetes give one), so the others call that one directly.
        env.setdefault(f"SERVICES_{service.upper()}_INTERNAL_URL", f"http://127.0.0.1:{ports[name][1]}")
    return {
        name: WardenProcess(["serve", service, "-c", str(config)], env=env, cwd=cwd, ports=ports[name])
        for name, service in REPLICAS
    }


def nginx_config_for(
    processes: dict[str, WardenProcess], public_port: int, admin_port: int, grpc_port: int, cwd: Path
) -> str:
    args = [
        "routes",
        "--nginx",
        "--full",
        "--listen-public",
        f"127.0.0.1:{public_port}",
        "--listen-admin",
        f"127.0.0.1:{admin_port}",
        "--listen-grpc",
        f"127.0.0.1:{grpc_port}",
    ]
    for name, service in REPLICAS:
        process = processes[name]
        args += ["--upstream", f"{service}=127.0.0.1:{process.public_port}:{process.admin_port}:{process.grpc_port}"]
    generated = run_cli(args, env={}, cwd=cwd)
    assert generated.returncode == 0, generated.stderr
    return generated.stdout


@pytest.fixture
def cluster(
    stopwatch: None, tmp_path: Path, pg_dsn: str, amqp_vhost: str, redis_url: str, redis_prefix: str
) -> Iterator[Cluster]:
    public_port = free_port()
    config = write_config(tmp_path, f"http://127.0.0.1:{public_port}/")
    env = distributed_env(pg_dsn, amqp_vhost, redis_url, redis_prefix, INTERNAL_TOKEN)
    with running_cluster(config, env, tmp_path, public_port) as running:
        yield running


@contextmanager
def running_cluster(config: Path, env: dict[str, str], cwd: Path, public_port: int) -> Iterator[Cluster]:
    """`warden migrate`, the services of REPLICAS as processes with `config` and `env`, and the
    generated nginx in front, its public listener on `public_port`; all stopped cleanly after."""
    nginx_binary = require_nginx()
    admin_port, grpc_port = free_port(), free_port()
    started = time.monotonic()
    migrated = run_cli(["migrate", "sql", "-e", "--yes", "-c", str(config)], env=env, cwd=cwd)
    assert migrated.returncode == 0, migrated.stderr
    processes = start_services(config, env, cwd)
    nginx: Nginx | None = None
    stopped = False
    try:
        for process in processes.values():
            process.wait_ready(timeout=60.0)  # five interpreters starting at once on a small machine
        conf = nginx_config_for(processes, public_port, admin_port, grpc_port, cwd)
        nginx = Nginx(nginx_binary, cwd / "nginx", conf)
        nginx.wait_listening(public_port, admin_port, grpc_port)
        print(f"\n[test_distributed] migrated, 5 services and nginx ready in {time.monotonic() - started:.1f} s")
        yield Cluster(
            processes, f"http://127.0.0.1:{public_port}", f"http://127.0.0.1:{admin_port}", f"127.0.0.1:{grpc_port}"
        )
        stopping = time.monotonic()
        nginx_code = nginx.stop()
        codes = stop_all(processes)
        stopped = True
        print(f"[test_distributed] nginx and services stopped in {time.monotonic() - stopping:.1f} s")
        assert nginx_code == 0, nginx.errors()
        assert codes == dict.fromkeys(processes, 0), "SIGTERM is a clean shutdown for every service"
    finally:
        if not stopped:
            if nginx is not None:
                nginx.stop()
            stop_all(processes)


def stop_all(processes: dict[str, WardenProcess], timeout: float = 20.0) -> dict[str, int]:
    """SIGTERM to every process at once (each drains on its own), then their exit codes; whatever
    they logged (warnings and worse) is printed, which pytest shows with -s or on a failure."""
    for process in processes.values():
        if process.proc.poll() is None:
            process.proc.send_signal(signal.SIGTERM)
    codes = {}
    for name, process in processes.items():
        try:
            codes[name] = process.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            process.proc.kill()
            codes[name] = process.proc.wait()
        logged = (process.proc.stderr.read() if process.proc.stderr else "").strip()
        if logged:
            print(f"[test_distributed] {name} logged:\n{logged[-4000:]}")
    return codes


async def json_call(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with http.request(method, url, **kwargs) as response:
        body = await response.read()
        return response.status, json.loads(body) if body else None


async def submit_api_flow(http: aiohttp.ClientSession, public: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """Creates a native (API) flow and submits it; the answer carries the session token."""
    status, flow = await json_call(http, "GET", f"{public}/self-service/{kind}/api")
    assert status == 200, flow
    status, done = await json_call(
        http, "POST", f"{public}/self-service/{kind}", params={"flow": flow["id"]}, json=body
    )
    assert status == 200, done
    return done


async def grpc_through_nginx(address: str, token: str, identity_id: str) -> None:
    """nginx's gRPC listener sends each gRPC service to its owner: the session check to a session
    replica, identities to the identity service, health to the first; the internal token is required."""
    auth = (("authorization", f"Bearer {INTERNAL_TOKEN}"),)
    async with grpc.aio.insecure_channel(address) as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        sessions = session_pb2_grpc.SessionServiceStub(channel)
        checked = await sessions.Check(session_pb2.CheckRequest(token=token), metadata=auth, timeout=10)
        assert checked.session.identity_id == identity_id
        found = await identity_pb2_grpc.IdentityServiceStub(channel).Get(
            identity_pb2.GetRequest(id=identity_id), metadata=auth, timeout=10
        )
        assert found.traits["email"] == EMAIL
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await sessions.Check(session_pb2.CheckRequest(token=token), timeout=10)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def page_on_the_other_replica(http: aiohttp.ClientSession, cluster: Cluster, identity_id: str) -> None:
    """A page token one session replica hands out opens on the other: both seal with the first of
    the config's secrets.pagination, nothing per process. The user has two sessions, one a page."""
    one, other = (replica.url("admin") for replica in cluster.session_replicas())
    async with http.get(f"{one}/admin/identities/{identity_id}/sessions?page_size=1") as first:
        assert first.status == 200
        shown = [s["id"] for s in await first.json()]
        following = dict((rel, url) for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', first.headers["Link"]))
    plain = base64.urlsafe_b64encode(shown[0].encode()).decode().rstrip("=")
    assert len(shown) == 1 and shown[0] not in following["next"] and plain not in following["next"], "token opaque"
    async with http.get(f"{other}{following['next']}") as second:
        assert second.status == 200, await second.text()
        rest = [s["id"] for s in await second.json()]
    assert len(rest) == 1 and rest != shown


async def whoami(http: aiohttp.ClientSession, public: str, token: str) -> tuple[int, Any]:
    return await json_call(http, "GET", f"{public}/sessions/whoami", headers={"X-Session-Token": token})


async def whoami_answered(http: aiohttp.ClientSession, replica: WardenProcess) -> int:
    """How many whoami requests this replica answered with 200, from its own /metrics."""
    async with http.get(f"{replica.url('admin')}/metrics") as response:
        assert response.status == 200
        exposition = await response.text()
    return int(
        sum(
            sample.value
            for family in text_string_to_metric_families(exposition)
            if family.name == "warden_http_requests"
            for sample in family.samples
            if sample.name == "warden_http_requests_total"
            and sample.labels.get("route") == "/sessions/whoami"
            and sample.labels.get("status") == "200"
            and sample.labels.get("port") == "public"
        )
    )


async def test_register_login_whoami_and_delete_through_nginx_with_two_session_replicas(cluster: Cluster) -> None:
    public, admin = cluster.public, cluster.admin
    async with aiohttp.ClientSession() as http:
        assert (await json_call(http, "GET", f"{public}/health/ready"))[0] == 200
        assert (await json_call(http, "GET", f"{admin}/health/ready"))[0] == 200

        registered = await submit_api_flow(
            http, public, "registration", {"method": "password", "traits": {"email": EMAIL}, "password": PASSWORD}
        )
        identity_id = registered["identity"]["id"]
        assert registered["session"]["identity"]["id"] == identity_id, "the session hook signed the user in"
        logged_in = await submit_api_flow(
            http, public, "login", {"method": "password", "identifier": EMAIL, "password": PASSWORD}
        )
        token = logged_in["session_token"]
        assert logged_in["session"]["identity"]["id"] == identity_id

        before = [await whoami_answered(http, replica) for replica in cluster.session_replicas()]
        for _ in range(WHOAMI_CALLS):
            status, session = await whoami(http, public, token)
            assert status == 200, session
            assert session["identity"]["id"] == identity_id and session["active"] is True
        served = [await whoami_answered(http, replica) - n for replica, n in zip(cluster.session_replicas(), before)]
        assert sum(served) == WHOAMI_CALLS and all(n > 0 for n in served), f"whoami per replica: {served}"
        print(f"[test_distributed] whoami answered by session-a, session-b: {served}")
        await grpc_through_nginx(cluster.grpc, token, identity_id)
        await page_on_the_other_replica(http, cluster, identity_id)

        # Native logout goes to selfservice, which revokes through the session service's internal API;
        # the other replica refuses the token as well (shared database and cache).
        status, _ = await json_call(
            http, "DELETE", f"{public}/self-service/logout/api", json={"session_token": registered["session_token"]}
        )
        assert status == 204
        for _ in range(2):
            assert (await whoami(http, public, registered["session_token"]))[0] == 401

        status, identities = await json_call(http, "GET", f"{admin}/admin/identities")
        assert status == 200, identities
        assert [i["id"] for i in identities if i["traits"].get("email") == EMAIL] == [identity_id]

        # Only the admin listener routes the admin API; nothing routes the internal API, not even
        # with the internal token.
        for path in ("/admin/identities", "/identities", f"/admin/identities/{identity_id}"):
            assert (await json_call(http, "GET", f"{public}{path}"))[0] == 404, path
        internal = {"X-Warden-Internal-Token": INTERNAL_TOKEN}
        for base in (public, admin):
            for path in (
                "/internal/identity/info",
                f"/internal/identity/identities/{identity_id}",
                "/internal/session/info",
            ):
                status, body = await json_call(http, "GET", f"{base}{path}", headers=internal)
                assert status == 404, (base, path, body)

        async def answers() -> list[int]:  # twice: nginx alternates between the replicas
            return [(await whoami(http, public, token))[0] for _ in range(2)]

        # The identity service tells the session service of each change before it answers: the
        # cached session is refused on the very next request (checklist SE-5), not when the event
        # arrives, and taken again once the identity is active again.
        for state, expected in (("inactive", [401, 401]), ("active", [200, 200])):
            patch = [{"op": "replace", "path": "/state", "value": state}]
            status, body = await json_call(http, "PATCH", f"{admin}/admin/identities/{identity_id}", json=patch)
            assert status == 200, body
            assert await answers() == expected, state
        status, body = await json_call(http, "DELETE", f"{admin}/admin/identities/{identity_id}")
        assert status == 204, body
        assert await answers() == [401, 401]
        status, identities = await json_call(http, "GET", f"{admin}/admin/identities")
        assert status == 200 and identity_id not in [i["id"] for i in identities]
