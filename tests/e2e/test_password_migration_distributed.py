"""The password migration hook with each service in its own `warden serve <service>` process, on
the real PostgreSQL, RabbitMQ and Redis: the identity service calls the legacy system (a real HTTP
server on loopback), and self-service, which asked it over the internal API, answers the user as the
all-in-one process does: the hook's 502 while it is down, a session once it vouches for the
password, and a session from Warden's own hash after that, with the legacy system gone."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml

from tests.e2e.warden_process import WardenProcess, distributed_env, run_cli
from tests.factories import EMAIL_SCHEMA
from tests.webhook_receiver import Answer, Received, WebhookReceiver

TOKEN = "e2e-password-migration-internal-token"
EMAIL, PASSWORD = "grace@legacy.example", "Flow-Matic-1955"
STARTED_IN_ORDER = ("identity", "session", "selfservice")  # each learns where the ones before listen


def legacy_answer(request: Received) -> Answer:
    matches = request.json() == {"identifier": EMAIL, "password": PASSWORD}
    return (200, {"status": "password_match"}, {}) if matches else (403, None, {})


@pytest.fixture
def legacy() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(answer=legacy_answer)  # down until started
    yield receiver
    receiver.close()


def write_config(directory: Path, hook_url: str, body: str | None = None, **top: Any) -> Path:
    (directory / "identity.schema.json").write_text(json.dumps(EMAIL_SCHEMA))
    migrate_hook = {"enabled": True, "config": {"url": hook_url, **({"body": body} if body else {})}}
    config: dict[str, Any] = {
        "identity": {
            "default_schema_id": "default",
            "schemas": [{"id": "default", "url": f"file://{directory}/identity.schema.json"}],
        },
        "selfservice": {
            "default_browser_return_url": "http://127.0.0.1:4455/",
            "methods": {"password": {"enabled": True, "config": {"migrate_hook": migrate_hook}}},
        },
        "secrets": {"cookie": ["e2e-password-migration-cookie-secret-0123"]},
        "log": {"level": "warning"},
        **top,
    }
    path = directory / "kratos.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def login(public_url: str, password: str) -> urllib3.BaseHTTPResponse:
    flow = json.loads(urllib3.request("GET", f"{public_url}/self-service/login/api").data)
    return urllib3.request(
        "POST",
        f"{public_url}/self-service/login?flow={flow['id']}",
        json={"method": "password", "identifier": EMAIL, "password": password},
    )


def start_services(config: Path, env: dict[str, str], tmp_path: Path) -> dict[str, WardenProcess]:
    """Each service in its own process, started in order, every one ready; the caller stops them."""
    processes: dict[str, WardenProcess] = {}
    try:
        for name in STARTED_IN_ORDER:
            processes[name] = WardenProcess(["serve", name, "-c", str(config)], env=env, cwd=tmp_path)
            env = {**env, f"SERVICES_{name.upper()}_INTERNAL_URL": processes[name].url("admin")}
        for process in processes.values():
            process.wait_ready(timeout=60.0)
    except BaseException:
        for process in processes.values():
            process.stop()
        raise
    return processes


def import_awaiting_migration(processes: dict[str, WardenProcess]) -> str:
    body = {
        "schema_id": "default",
        "traits": {"email": EMAIL},
        "credentials": {"password": {"config": {"use_password_migration_hook": True}}},
    }
    created = urllib3.request("POST", f"{processes['identity'].url('admin')}/admin/identities", json=body)
    assert created.status == 201, created.data
    return str(json.loads(created.data)["id"])


SLOW_HOOK_TIMEOUT = 8.0  # past the internal calls' own 5 s, as an operator may set `webhooks.timeout`


def test_a_hook_slower_than_an_internal_call_is_still_waited_for_up_to_webhooks_timeout(
    tmp_path: Path, pg_dsn: str, amqp_vhost: str, redis_url: str, redis_prefix: str
) -> None:
    """The first call outlasts `webhooks.timeout`: the user hears the hook's 504, not a 503 of the
    internal call, and the identity still awaits migration. The second answers within it but after
    5 s: the user is signed in, as in one process."""
    legacy = WebhookReceiver(answer=legacy_answer, delay=lambda _r: 10.0 if len(legacy.received) == 1 else 6.0)
    legacy.start()
    config = write_config(tmp_path, legacy.url("/verify"), webhooks={"timeout": f"{SLOW_HOOK_TIMEOUT:g}s"})
    env = distributed_env(pg_dsn, amqp_vhost, redis_url, redis_prefix, TOKEN)
    migrated = run_cli(["migrate", "sql", "-e", "--yes", "-c", str(config)], env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    processes = start_services(config, env, tmp_path)
    try:
        identity_id = import_awaiting_migration(processes)
        public = processes["selfservice"].url("public")

        timed_out = login(public, PASSWORD)
        assert timed_out.status == 504, timed_out.data
        assert json.loads(timed_out.data)["error"]["status"] == "Gateway Timeout"

        signed_in = login(public, PASSWORD)
        assert signed_in.status == 200, signed_in.data
        assert json.loads(signed_in.data)["session"]["identity"]["id"] == identity_id
        assert len(legacy.requests()) == 2
    finally:
        codes = {name: process.stop() for name, process in processes.items()}
        legacy.close()
    assert codes == {name: 0 for name in STARTED_IN_ORDER}


def test_self_service_in_its_own_process_hears_the_hooks_answer_through_the_identity_service(
    tmp_path: Path, pg_dsn: str, amqp_vhost: str, redis_url: str, redis_prefix: str, legacy: WebhookReceiver
) -> None:
    config = write_config(tmp_path, legacy.url("/verify"))
    env = distributed_env(pg_dsn, amqp_vhost, redis_url, redis_prefix, TOKEN)
    migrated = run_cli(["migrate", "sql", "-e", "--yes", "-c", str(config)], env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    processes: dict[str, WardenProcess] = {}
    try:
        for name in STARTED_IN_ORDER:
            processes[name] = WardenProcess(["serve", name, "-c", str(config)], env=env, cwd=tmp_path)
            env = {**env, f"SERVICES_{name.upper()}_INTERNAL_URL": processes[name].url("admin")}
        for process in processes.values():
            process.wait_ready(timeout=60.0)
        identity_admin, public = processes["identity"].url("admin"), processes["selfservice"].url("public")
        body = {
            "schema_id": "default",
            "traits": {"email": EMAIL},
            "credentials": {"password": {"config": {"use_password_migration_hook": True}}},
        }
        created = urllib3.request("POST", f"{identity_admin}/admin/identities", json=body)
        assert created.status == 201, created.data

        down = login(public, PASSWORD)
        assert down.status == 502, down.data
        error = json.loads(down.data)["error"]
        assert (error["status"], error["reason"]) == (
            "Bad Gateway",
            "A third-party upstream service could not be reached. Please try again later.",
        )

        legacy.start()
        assert login(public, "Not-The-Password").status == 400
        signed_in = login(public, PASSWORD)
        assert signed_in.status == 200, signed_in.data
        assert json.loads(signed_in.data)["session"]["identity"]["id"] == json.loads(created.data)["id"]

        legacy.stop()
        assert login(public, PASSWORD).status == 200, "Warden's own hash, the legacy system gone"
        assert [r.json()["password"] for r in legacy.requests()] == ["Not-The-Password", PASSWORD]
    finally:
        codes = {name: process.stop() for name, process in processes.items()}
    assert codes == {name: 0 for name in STARTED_IN_ORDER}


# Kratos gives the template the flow too; Warden does not, so this one fails at every login.
FAILING_BODY = "function(ctx) {user: ctx.identifier, flow: ctx.flow.id}"
GENERIC_500 = "An internal server error occurred, please contact the system administrator"


def test_a_body_template_failing_at_login_is_a_500_as_in_one_process(
    tmp_path: Path, pg_dsn: str, amqp_vhost: str, redis_url: str, redis_prefix: str, legacy: WebhookReceiver
) -> None:
    """One process answers 500 (tests/integration/test_password_migration_hook.py). Self-service,
    which hears the identity service's 500 over the internal API, answers 500 too, not a 503 to try
    again: with the generic message, the internal path only in its log."""
    body = "base64://" + base64.b64encode(FAILING_BODY.encode()).decode()
    config = write_config(tmp_path, legacy.url("/verify"), body=body)
    env = distributed_env(pg_dsn, amqp_vhost, redis_url, redis_prefix, TOKEN)
    migrated = run_cli(["migrate", "sql", "-e", "--yes", "-c", str(config)], env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    processes = start_services(config, env, tmp_path)
    try:
        import_awaiting_migration(processes)
        failed = login(processes["selfservice"].url("public"), PASSWORD)
        assert failed.status == 500, failed.data
        error = json.loads(failed.data)["error"]
        assert (error["status"], error["message"]) == ("Internal Server Error", GENERIC_500)
        assert set(error) == {"code", "status", "message", "request"}, "no reason, no id of the identity service's"
        assert "/internal" not in failed.data.decode()
    finally:
        codes = {name: process.stop() for name, process in processes.items()}
    assert codes == {name: 0 for name in STARTED_IN_ORDER}
    assert "POST /internal/identity/password/verify answered 500" in processes["selfservice"].proc.stderr.read()  # type: ignore[union-attr]
    assert legacy.requests() == []
