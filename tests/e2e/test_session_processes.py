"""Two `warden serve session` processes sharing PostgreSQL and Redis, beside one `warden serve
identity`, all on one RabbitMQ virtual host: a session is one session whichever process answers,
a revocation through one is seen by the other on its very next request, and an identity's deletion
reaches both once the event is consumed, even when the identity service cannot tell the session
service of it at once (the address it is given here has nothing listening)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import redis as redis_sync

from tests.conftest import eventually, free_port
from tests.e2e.warden_process import WardenProcess, distributed_env, run_cli

INTERNAL_TOKEN = "e2e-session-internal-token"
INTERNAL_HEADER = {"X-Warden-Internal-Token": INTERNAL_TOKEN}


class Processes:
    def __init__(self, identity: WardenProcess, a: WardenProcess, b: WardenProcess) -> None:
        self.identity, self.a, self.b = identity, a, b

    def all(self) -> dict[str, WardenProcess]:
        return {"identity": self.identity, "session-a": self.a, "session-b": self.b}


@pytest.fixture
def processes(tmp_path: Path, pg_dsn: str, amqp_vhost: str, redis_url: str, redis_prefix: str) -> Iterator[Processes]:
    env = distributed_env(pg_dsn, amqp_vhost, redis_url, redis_prefix, INTERNAL_TOKEN)
    migrated = run_cli(["migrate", "sql", "-e", "--yes"], env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    unreachable = {**env, "SERVICES_SESSION_INTERNAL_URL": f"http://127.0.0.1:{free_port()}"}
    identity = WardenProcess(["serve", "identity"], env=unreachable, cwd=tmp_path)
    session_env = {**env, "SERVICES_IDENTITY_INTERNAL_URL": identity.url("admin")}
    started = Processes(identity, *(WardenProcess(["serve", "session"], env=session_env, cwd=tmp_path) for _ in "ab"))
    stopped = False
    try:
        for process in started.all().values():
            process.wait_ready(timeout=20.0)
        yield started
        codes = {name: process.stop() for name, process in started.all().items()}
        stopped = True
        assert codes == {name: 0 for name in started.all()}, "SIGTERM is a clean shutdown for every process"
    finally:
        if not stopped:
            for process in started.all().values():
                process.stop()


async def create_identity(http: aiohttp.ClientSession, identity: WardenProcess, email: str) -> str:
    body = {"schema_id": "default", "traits": {"email": email}}
    async with http.post(f"{identity.url('admin')}/admin/identities", json=body) as response:
        assert response.status == 201, await response.text()
        return (await response.json())["id"]


async def issue(http: aiohttp.ClientSession, session: WardenProcess, identity_id: str) -> tuple[str, str]:
    body = {"identity_id": identity_id, "methods": [{"method": "password"}], "device": {"user_agent": "e2e"}}
    url = f"{session.url('admin')}/internal/session/sessions"
    async with http.post(url, json=body, headers=INTERNAL_HEADER) as response:
        assert response.status == 201, await response.text()
        issued = await response.json()
        return issued["session"]["id"], issued["session_token"]


async def whoami(http: aiohttp.ClientSession, session: WardenProcess, token: str) -> tuple[int, str | None]:
    """The status and, on 200, the identity the session belongs to."""
    async with http.get(f"{session.url('public')}/sessions/whoami", headers={"X-Session-Token": token}) as response:
        if response.status != 200:
            return response.status, None
        return 200, (await response.json())["identity"]["id"]


async def session_ids(http: aiohttp.ClientSession, session: WardenProcess) -> set[str]:
    async with http.get(f"{session.url('admin')}/admin/sessions") as response:
        assert response.status == 200, await response.text()
        return {s["id"] for s in await response.json()}


async def test_two_session_processes_share_sessions_revocations_and_identity_deletions(
    processes: Processes, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    a, b = processes.a, processes.b
    cache = redis_sync.Redis.from_url(redis_url)
    async with aiohttp.ClientSession() as http:
        ada = await create_identity(http, processes.identity, "ada@example.com")
        bob = await create_identity(http, processes.identity, "bob@example.com")
        revoked_id, revoked = await issue(http, a, ada)
        others_issued = [await issue(http, a, ada), await issue(http, b, ada)]
        others = [token for _, token in others_issued]
        _, bystander = await issue(http, b, bob)

        # Issued through one, accepted by the other; after both have answered it, it is cached.
        assert await whoami(http, b, revoked) == (200, ada)
        assert await whoami(http, a, revoked) == (200, ada)
        assert cache.exists(f"{redis_prefix}session:{hashlib.sha256(revoked.encode()).hexdigest()}")
        for token in others:
            assert await whoami(http, a, token) == (200, ada) and await whoami(http, b, token) == (200, ada)

        async with http.delete(f"{a.url('admin')}/admin/sessions/{revoked_id}") as response:
            assert response.status == 204
        assert (await whoami(http, b, revoked))[0] == 401, "refused by the other process on the very next request"
        assert (await whoami(http, a, revoked))[0] == 401

        async with http.delete(f"{processes.identity.url('admin')}/admin/identities/{ada}") as response:
            assert response.status == 204

        async def refused_everywhere() -> bool:
            answers = [await whoami(http, process, token) for process in (a, b) for token in others]
            return all(status == 401 for status, _ in answers)

        await eventually(refused_everywhere, timeout=15)
        ada_sessions = {revoked_id, *(session_id for session_id, _ in others_issued)}
        assert not ada_sessions & await session_ids(http, a), "the deleted identity's sessions are gone"
        assert await whoami(http, a, bystander) == (200, bob) and await whoami(http, b, bystander) == (200, bob)
    cache.close()
    assert processes.identity.stop() == 0
    logged = processes.identity.proc.stderr.read()  # type: ignore[union-attr]
    assert f"the session service was not told of identity {ada}'s change" in logged, logged
