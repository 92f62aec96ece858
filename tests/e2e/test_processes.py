"""Warden as an operator meets it: real processes started by the CLI, over real HTTP."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import yaml

from shared.clients.http import HttpServiceClient, InternalHttp
from tests.conftest import free_port, unique
from tests.e2e.warden_process import WardenProcess, run_cli, status

SERVICES = ("identity", "session", "selfservice", "courier")


def test_embedded_default_serves_recovery_and_says_where_things_are(tmp_path: Path) -> None:
    """`make run`: no config, recovery and verification on, and the console names the UI, the admin
    API and the mail folder. (No timing: readiness speed is not asserted on a shared machine.)"""
    warden = WardenProcess(["serve", "--dev"], env={}, cwd=tmp_path)
    try:
        warden.wait_ready(timeout=60.0)
        assert status(warden.url("admin") + "/metrics") == 200
        assert status(warden.url("public") + "/metrics") == 404
        login_page = _get_text(warden.url("public") + "/ui/login")
        assert f'href="{warden.url("public")}/ui/recovery"' in login_page and "Forgot password?" in login_page
        recovery_page = _get_text(warden.url("public") + "/ui/recovery")
        assert "disabled" not in recovery_page and 'name="email"' in recovery_page
        assert 'name="email"' in _get_text(warden.url("public") + "/ui/verification")
    finally:
        assert warden.stop() == 0, "SIGTERM is a clean shutdown"
    assert (tmp_path / "warden.sqlite").exists(), "the embedded default keeps its data in the working directory"
    console = warden.proc.stderr.read()  # type: ignore[union-attr]
    assert f"{warden.url('public')}/ui/login" in console
    assert f"{warden.url('admin')}/admin/" in console
    assert f"{tmp_path.resolve() / '.warden' / 'mail'}/" in console


def test_serve_runs_on_uvloop_with_the_access_log_on(tmp_path: Path) -> None:
    """uvloop is a dependency on Linux and `warden serve` uses it; the access log (INFO, the default)
    writes one JSON line a request, without the query string."""
    warden = WardenProcess(["serve", "--dev"], env={"LOG_LEVEL": "info"}, cwd=tmp_path)
    try:
        warden.wait_ready(timeout=60.0)
        assert status(warden.url("public") + "/sessions/whoami?token=ory_st_n0tl0gg3d") == 401
    finally:
        assert warden.stop() == 0
    entries = [json.loads(line) for line in warden.proc.stderr.read().splitlines() if line.startswith("{")]  # type: ignore[union-attr]
    started = next(e for e in entries if e["msg"].startswith("warden is serving"))
    assert started["event_loop"] == "uvloop"
    access = [e for e in entries if e["logger"] == "warden.http" and "/sessions/whoami" in e["msg"]]
    assert [(e["msg"], e["port"], e["status"]) for e in access] == [("GET /sessions/whoami 401", "public", 401)]
    assert access[0]["request_id"]


def _get_text(url: str) -> str:
    """The page a browser ends on, redirects followed with the cookies they set."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with opener.open(url, timeout=10) as response:
        return response.read().decode()


def test_embedded_memory_dsn_with_a_kratos_config(tmp_path: Path) -> None:
    config = Path("tests/fixtures/quickstart/email-password/kratos.yml").resolve()
    warden = WardenProcess(["serve", "-c", str(config), "--dev", "--watch-courier"], env={}, cwd=tmp_path)
    try:
        warden.wait_ready(timeout=60.0)
    finally:
        assert warden.stop() == 0
    assert not list(tmp_path.iterdir()), "dsn: memory writes no file"


def test_unknown_flag_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    result = run_cli(["serve", "--no-such-flag"], env={}, cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--no-such-flag" in result.stderr


def test_bad_config_is_one_line_naming_the_key_and_exit_code_2(tmp_path: Path) -> None:
    quickstart = Path("tests/fixtures/quickstart/email-password")
    tree = yaml.safe_load((quickstart / "kratos.yml").read_text())
    tree["serve"]["public"]["portt"] = 4433
    config = tmp_path / "kratos.yml"
    config.write_text(yaml.safe_dump(tree))
    (tmp_path / "identity.schema.json").write_text((quickstart / "identity.schema.json").read_text())
    result = run_cli(["serve", "-c", str(config)], env={}, cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "serve.public" in result.stderr and "portt" in result.stderr


def test_a_half_configured_grpc_tls_is_refused_rather_than_served_in_cleartext(tmp_path: Path) -> None:
    """A certificate without its key (or a client CA without either) used to open the gRPC port
    without TLS, silently: identities and session checks would cross the network in the clear."""
    (tmp_path / "server.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    env = {
        "DSN": "memory",
        "SERVICES_INTERNAL_TOKEN": "a-token-for-this-test-only-0123456789",
        "SERVE_PUBLIC_PORT": str(free_port()),
        "SERVE_ADMIN_PORT": str(free_port()),
    }
    for tls in ({"cert": "server.crt"}, {"client_ca": "server.crt"}):
        config = tmp_path / "warden.yml"
        config.write_text(yaml.safe_dump({"serve": {"grpc": {"port": free_port(), "tls": tls}}}))
        result = run_cli(["serve", "-c", str(config)], env=env, cwd=tmp_path, timeout=30)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert "serve.grpc.tls" in result.stderr


def test_a_lone_service_refuses_in_process_bus(tmp_path: Path) -> None:
    result = run_cli(["serve", "identity"], env={"DSN": "memory"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "bus.url" in result.stderr


def test_a_lone_service_refuses_to_start_without_the_internal_token(
    tmp_path: Path, pg_dsn: str, amqp_vhost: str, redis_url: str, redis_prefix: str
) -> None:
    env = _distributed_env(pg_dsn, amqp_vhost, redis_url, redis_prefix) | {"SERVICES_INTERNAL_TOKEN": ""}
    result = run_cli(["serve", "identity"], env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "services.internal_token" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _distributed_env(pg_dsn: str, amqp_vhost: str, redis_url: str, redis_prefix: str) -> dict[str, str]:
    return {
        "DSN": pg_dsn,
        "BUS_URL": amqp_vhost,
        "CACHE_URL": redis_url,
        "CACHE_PREFIX": redis_prefix,
        "SERVICES_INTERNAL_TOKEN": "e2e-internal-token",
    }


def test_a_service_refuses_an_out_of_date_schema(
    tmp_path: Path, pg_dsn: str, amqp_vhost: str, redis_url: str, redis_prefix: str
) -> None:
    env = _distributed_env(pg_dsn, amqp_vhost, redis_url, redis_prefix)
    result = run_cli(["serve", "identity"], env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "warden migrate" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


async def test_each_service_in_its_own_process_answers_another_over_http(
    tmp_path: Path, pg_dsn: str, amqp_vhost: str, redis_url: str, redis_prefix: str
) -> None:
    env = _distributed_env(pg_dsn, amqp_vhost, redis_url, redis_prefix)
    for _ in range(2):  # idempotent
        migrated = run_cli(["migrate", "sql", "-e", "--yes"], env=env, cwd=tmp_path)
        assert migrated.returncode == 0, migrated.stderr

    processes: dict[str, WardenProcess] = {}
    for name in SERVICES:  # each learns where the ones before it listen, as in docker-compose
        processes[name] = WardenProcess(["serve", name], env=env, cwd=tmp_path)
        env = {**env, f"SERVICES_{name.upper()}_INTERNAL_URL": processes[name].url("admin")}
    try:
        for warden in processes.values():
            warden.wait_ready(timeout=60.0)
        async with aiohttp.ClientSession() as session:
            for name, warden in processes.items():
                client = HttpServiceClient(name, InternalHttp(warden.url("admin"), "e2e-internal-token", session))
                assert (await client.info())["service"] == name
                # The internal API is not on the public port, and refuses a wrong token.
                async with session.get(f"{warden.url('public')}/internal/{name}/info") as response:
                    assert response.status == 404
                async with session.get(
                    f"{warden.url('admin')}/internal/{name}/info", headers={"X-Warden-Internal-Token": "wrong"}
                ) as response:
                    assert response.status == 401
    finally:
        codes = {name: warden.stop() for name, warden in processes.items()}
    assert codes == {name: 0 for name in SERVICES}


def test_hashers_argon2_calibrate_prints_a_config_block(tmp_path: Path) -> None:
    result = run_cli(["hashers", "argon2", "calibrate", "50ms", "--memory", "8MB"], env={}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    block = yaml.safe_load(result.stdout)["hashers"]
    assert block["algorithm"] == "argon2"
    assert block["argon2"]["memory"] == "8MB" and block["argon2"]["iterations"] >= 2


def test_cleanup_deletes_expired_flows_and_sessions_and_old_processed_event_records(tmp_path: Path) -> None:
    import asyncio
    from datetime import datetime, timedelta

    from sqlalchemy import text

    from shared.storage.database import Database

    dsn = f"sqlite://{tmp_path}/warden.sqlite"
    assert run_cli(["migrate"], env={"DSN": dsn}, cwd=tmp_path).returncode == 0
    past, future = datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1)

    async def seed_and_count(seed: bool) -> tuple[int, int, int]:
        db = Database.from_dsn(dsn)
        try:
            async with db.transaction() as conn:
                if seed:
                    for i, expires in enumerate((past, past, future)):
                        await conn.execute(
                            text("INSERT INTO selfservice_flows VALUES (:id, 'login', '{}', :e, :e, :e)"),
                            {"id": f"flow-{i}", "e": expires},
                        )
                        await conn.execute(
                            text(
                                "INSERT INTO session_sessions (id, token_hash, identity_id, active, expires_at, "
                                "authenticated_at, issued_at, authentication_methods, created_at, updated_at) "
                                "VALUES (:id, :h, 'i', 1, :e, :e, :e, '[]', :e, :e)"
                            ),
                            {"id": f"session-{i}", "h": f"hash-{i}", "e": expires},
                        )
                    # Records of processed events: one past the week they are kept for, one recent.
                    for i, processed in enumerate((datetime.now(UTC) - timedelta(days=8), past)):
                        await conn.execute(
                            text("INSERT INTO identity_processed_events VALUES (:id, 'identity.q', :at)"),
                            {"id": f"event-{i}", "at": processed},
                        )
                flows = (await conn.execute(text("SELECT count(*) FROM selfservice_flows"))).scalar_one()
                sessions = (await conn.execute(text("SELECT count(*) FROM session_sessions"))).scalar_one()
                processed = (await conn.execute(text("SELECT count(*) FROM identity_processed_events"))).scalar_one()
                return flows, sessions, processed
        finally:
            await db.dispose()

    asyncio.run(seed_and_count(True))
    result = run_cli(["cleanup", "--batch-size", "1"], env={"DSN": dsn}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 rows of selfservice" in result.stdout and "2 rows of session" in result.stdout
    assert "1 rows of identity" in result.stdout, result.stdout
    assert asyncio.run(seed_and_count(False)) == (1, 1, 1)


def test_cleanup_keeps_what_expired_lately_by_kratos_flag_or_config_key(tmp_path: Path) -> None:
    """`kratos cleanup sql -e -b N --keep-last D --database.cleanup.sleep.tables D`, spelled the same;
    `database.cleanup.older_than` (here from the environment) when the flag is not given."""
    from datetime import datetime, timedelta

    dsn = f"sqlite://{tmp_path}/warden.sqlite"
    assert run_cli(["migrate"], env={"DSN": dsn}, cwd=tmp_path).returncode == 0

    now = datetime.now(UTC)
    _flows(dsn, {"3h-ago": now - timedelta(hours=3), "30m-ago": now - timedelta(minutes=30)})
    flags = ["-b", "1", "--keep-last", "1h", "--database.cleanup.sleep.tables", "1ms"]
    result = run_cli(["cleanup", "sql", "-e", *flags], env={"DSN": dsn}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 rows of selfservice" in result.stdout
    assert _flows(dsn, {}) == {"30m-ago"}
    result = run_cli(["cleanup"], env={"DSN": dsn, "DATABASE_CLEANUP_OLDER_THAN": "10m"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _flows(dsn, {}) == set()


def test_cleanup_takes_the_database_url_as_an_argument_as_migrate_does(tmp_path: Path) -> None:
    """`kratos cleanup sql <database-url>`, and Warden's shorter `cleanup <database-url>`: the URL
    names the database, over the environment's DSN; `migrate` takes it the same two ways."""
    from datetime import datetime, timedelta

    dsn, elsewhere = f"sqlite://{tmp_path}/named.sqlite", {"DSN": f"sqlite://{tmp_path}/from-env.sqlite"}
    assert run_cli(["migrate", dsn], env=elsewhere, cwd=tmp_path).returncode == 0
    assert run_cli(["migrate", "sql", dsn, "--yes"], env=elsewhere, cwd=tmp_path).returncode == 0

    now = datetime.now(UTC)
    _flows(dsn, {"expired": now - timedelta(hours=1), "live": now + timedelta(hours=1)})
    result = run_cli(["cleanup", "sql", dsn], env=elsewhere, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 rows of selfservice" in result.stdout, result.stdout
    assert _flows(dsn, {"expired-too": now - timedelta(minutes=5)}) == {"live", "expired-too"}
    result = run_cli(["cleanup", dsn, "-b", "1"], env=elsewhere, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _flows(dsn, {}) == {"live"}
    assert sorted(p.name for p in tmp_path.glob("*.sqlite")) == ["named.sqlite"], "the environment's DSN unused"


def _flows(dsn: str, seed: dict[str, datetime]) -> set[str]:
    """Inserts login flows expiring at the given times, then the ids of all the flows stored."""
    import asyncio

    from sqlalchemy import text

    from shared.storage.database import Database

    async def seeded() -> set[str]:
        db = Database.from_dsn(dsn)
        try:
            async with db.transaction() as conn:
                for key, expires in seed.items():
                    insert = "INSERT INTO selfservice_flows VALUES (:id, 'login', '{}', :e, :e, :e)"
                    await conn.execute(text(insert), {"id": key, "e": expires})
                return set((await conn.execute(text("SELECT id FROM selfservice_flows"))).scalars())
        finally:
            await db.dispose()

    return asyncio.run(seeded())


def _one_line_failure(args: list[str], env: dict[str, str], cwd: Path) -> str:
    result = run_cli(args, env=env, cwd=cwd)
    assert result.returncode == 1, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr


def test_a_missing_database_is_one_line_and_debug_shows_the_traceback(tmp_path: Path, postgres_server: None) -> None:
    env = {"DSN": f"postgres://postgres@127.0.0.1:5432/{unique('absent')}?sslmode=disable", "LOG_LEVEL": "error"}
    line = _one_line_failure(["serve", "--migrate"], env, tmp_path)
    assert line.startswith("warden: dsn: database ") and "does not exist" in line
    debug = run_cli(["--debug", "serve", "--migrate"], env=env, cwd=tmp_path)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_a_refused_database_and_a_port_in_use_are_one_line(tmp_path: Path) -> None:
    closed = free_port()
    line = _one_line_failure(
        ["serve"], {"DSN": f"postgres://postgres@127.0.0.1:{closed}/x", "LOG_LEVEL": "error"}, tmp_path
    )
    assert line.startswith("warden: dsn: ") and str(closed) in line
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            "DSN": "memory",
            "SERVE_PUBLIC_PORT": str(port),
            "SERVE_ADMIN_PORT": str(free_port()),
            "LOG_LEVEL": "error",
        }
        line = _one_line_failure(["serve", "--dev"], env, tmp_path)
    assert line.startswith("warden: serve.public: address already in use") and str(port) in line, line


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "kratos.yml").write_text("dsn: memory\nserve: [unclosed\n")
    result = run_cli(["serve", "-c", "kratos.yml"], env={}, cwd=tmp_path)
    assert result.returncode == 2
    assert (
        result.stderr.startswith("warden: config: kratos.yml:3:1: YAML syntax error: ")
        and result.stderr.count("\n") == 1
    )


def test_an_unknown_database_host_and_a_refused_role_are_one_line(tmp_path: Path, postgres_server: None) -> None:
    env = {"DSN": "postgres://postgres@warden-no-such-host.invalid:5432/x", "LOG_LEVEL": "error"}
    line = _one_line_failure(["serve"], env, tmp_path)
    assert line.startswith("warden: dsn: cannot resolve the host warden-no-such-host.invalid:5432 ("), line
    # The test server trusts every local login, so a refused login is a role it does not know.
    role = unique("nobody")
    env = {"DSN": f"postgres://{role}:wrong-password@127.0.0.1:5432/postgres?sslmode=disable", "LOG_LEVEL": "error"}
    line = _one_line_failure(["serve"], env, tmp_path)
    assert line.startswith(f'warden: dsn: role "{role}" does not exist'), line
    assert "wrong-password" not in line


def test_broker_failures_are_one_line_naming_bus_url(tmp_path: Path, amqp_url: str) -> None:
    """A missing vhost, a wrong password and a closed port: one line each, the driver's own error
    line held back, and never the password."""
    base = amqp_url.rstrip("/")
    cases = {
        f"{base}/{unique('absent_vhost')}": "the broker closed the connection (is the vhost there",
        base.replace("guest:guest@", "guest:not-the-password@") + "/": "ACCESS_REFUSED",
        f"amqp://guest:guest@127.0.0.1:{free_port()}/": "connection refused by 127.0.0.1:",
    }
    for url, cause in cases.items():
        line = _one_line_failure(["serve"], {"DSN": "memory", "BUS_URL": url, "LOG_LEVEL": "error"}, tmp_path)
        assert line.startswith("warden: bus.url: ") and cause in line, line
        assert "not-the-password" not in line


def test_a_refusing_cache_is_one_line_naming_cache_url_and_warden_serves_on(tmp_path: Path) -> None:
    """Redis holds only a cache, and a process must be able to restart during a Redis outage: the
    refusal is one warning line naming cache.url, and whoami is served from the database."""
    closed = free_port()
    warden = WardenProcess(
        ["serve", "--dev"], env={"CACHE_URL": f"redis://127.0.0.1:{closed}/0", "LOG_LEVEL": "warning"}, cwd=tmp_path
    )
    try:
        deadline = time.monotonic() + 60
        while status(warden.url("public") + "/health/alive") != 200:
            assert warden.proc.poll() is None and time.monotonic() < deadline, "warden did not start"
            time.sleep(0.1)
        assert status(warden.url("public") + "/sessions/whoami") == 401, "served without the cache"
    finally:
        warden.stop()
    lines = [line for line in warden.proc.stderr.read().splitlines() if "cache.url" in line]  # type: ignore[union-attr]
    assert len(lines) == 1, lines
    assert f"127.0.0.1:{closed}" in lines[0] and "serving without the cache" in lines[0], lines[0]


def test_migrate_and_cleanup_name_an_unusable_database_in_one_line(tmp_path: Path) -> None:
    closed = free_port()
    env = {"DSN": f"postgres://postgres@127.0.0.1:{closed}/x?sslmode=disable", "LOG_LEVEL": "error"}
    for args in (["migrate", "sql", "-e", "--yes"], ["cleanup", "sql", "-e"]):
        line = _one_line_failure(args, env, tmp_path)
        assert line.startswith("warden: dsn: ") and f"127.0.0.1:{closed}" in line, line
