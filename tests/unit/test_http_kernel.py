"""The HTTP kernel as a client sees it: Kratos's error shape, health, version, metrics, size limit,
request ids, the internal-token guard, and logs without secrets."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from shared import errors
from shared.clients.http import INTERNAL_TOKEN_HEADER
from shared.http.app import BoundRoute, ReadinessCheck, create_app
from shared.logging import redact
from shared.metrics import Metrics

MakeClient = Callable[..., Awaitable[TestClient]]


async def _conflict(_r: web.Request) -> web.Response:
    raise errors.Conflict("an identity with this identifier exists already")


async def _boom(_r: web.Request) -> web.Response:
    raise RuntimeError("secret internals: password=hunter2")


async def _echo(request: web.Request) -> web.Response:
    return web.json_response({"size": len(await request.read())})


async def _ok(_r: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def _moved(_r: web.Request) -> web.Response:
    raise web.HTTPTemporaryRedirect("http://127.0.0.1:4434/admin/identities")


ROUTES = [
    BoundRoute("GET", "/conflict", _conflict),
    BoundRoute("GET", "/boom", _boom),
    BoundRoute("POST", "/echo", _echo),
    BoundRoute("GET", "/internal/identity/info", _ok),
    BoundRoute("GET", "/moved", _moved),
]


async def _true() -> bool:
    return True


async def _false() -> bool:
    return False


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    clients: list[TestClient] = []

    async def make(
        port: str = "public", checks: Sequence[ReadinessCheck] = (), token: str = "", log_health: bool = True
    ) -> TestClient:
        app = create_app(
            port=port,
            routes=ROUTES,
            readiness=checks,
            metrics=Metrics(),
            internal_token=token,
            max_body_bytes=1024,
            log_health_requests=log_health,
        )
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def test_typed_error_renders_in_kratos_shape_with_request_id(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.get("/conflict", headers={"X-Request-Id": "req-123"})
    assert response.status == 409
    assert response.headers["X-Request-Id"] == "req-123"
    body = await response.json()
    assert body["error"]["code"] == 409
    assert body["error"]["status"] == "Conflict"
    assert body["error"]["reason"] == "an identity with this identifier exists already"
    assert body["error"]["request"] == "req-123"


async def test_unknown_path_is_a_kratos_404(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.get("/nope")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == 404


async def test_bug_is_a_generic_500_that_leaks_nothing(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client()
    with caplog.at_level(logging.ERROR):
        response = await client.get("/boom")
    assert response.status == 500
    text = await response.text()
    assert "hunter2" not in text and "RuntimeError" not in text
    assert (await response.json())["error"]["message"].startswith("An internal server error occurred")
    assert any(r.exc_info for r in caplog.records), "the bug is logged with its stack"


async def test_oversized_body_is_refused_with_413(make_client: MakeClient) -> None:
    client = await make_client()
    assert (await client.post("/echo", data=b"x" * 100)).status == 200
    response = await client.post("/echo", data=b"x" * 4096)
    assert response.status == 413
    assert (await response.json())["error"]["code"] == 413


async def test_unsafe_request_id_is_replaced(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.get("/health/alive", headers={"X-Request-Id": "evil\u00e9 id with spaces"})
    assert response.headers["X-Request-Id"] != "evil\u00e9 id with spaces"
    assert len(response.headers["X-Request-Id"]) == 36


async def test_each_request_without_an_id_gets_its_own_uuid(make_client: MakeClient) -> None:
    client = await make_client()
    ids = [(await client.get("/health/alive")).headers["X-Request-Id"] for _ in range(3)]
    assert len(set(ids)) == 3
    assert all(uuid.UUID(i).version == 4 and str(uuid.UUID(i)) == i for i in ids)


@pytest.mark.parametrize("port", ["public", "admin"])
async def test_health_and_version_on_both_ports(make_client: MakeClient, port: str) -> None:
    client = await make_client(port, checks=[ReadinessCheck("database", _true)])
    assert await (await client.get("/health/alive")).json() == {"status": "ok"}
    assert await (await client.get("/health/ready")).json() == {"status": "ok"}
    assert "version" in await (await client.get("/version")).json()


async def test_ready_names_what_is_not_ready(make_client: MakeClient) -> None:
    client = await make_client(checks=[ReadinessCheck("database", _true), ReadinessCheck("bus", _false)])
    response = await client.get("/health/ready")
    assert response.status == 503
    assert await response.json() == {"errors": {"bus": "not reachable"}}


async def test_metrics_only_on_admin(make_client: MakeClient) -> None:
    public, admin = await make_client("public"), await make_client("admin")
    await admin.get("/health/alive")
    assert (await public.get("/metrics")).status == 404
    response = await admin.get("/metrics")
    assert response.status == 200
    assert (
        'warden_http_requests_total{method="GET",port="admin",route="/health/alive",status="200"} 1.0'
        in await response.text()
    )


@pytest.mark.parametrize("presented", [None, "wrong-token"])
async def test_internal_paths_refuse_callers_without_the_token(make_client: MakeClient, presented: str | None) -> None:
    client = await make_client("admin", token="the-internal-token")
    headers = {INTERNAL_TOKEN_HEADER: presented} if presented else {}
    response = await client.get("/internal/identity/info", headers=headers)
    assert response.status == 401
    assert (await response.json())["error"]["code"] == 401


async def test_internal_paths_answer_the_token(make_client: MakeClient) -> None:
    client = await make_client("admin", token="the-internal-token")
    response = await client.get("/internal/identity/info", headers={INTERNAL_TOKEN_HEADER: "the-internal-token"})
    assert response.status == 200


async def test_internal_paths_answer_nobody_without_a_configured_token(make_client: MakeClient) -> None:
    client = await make_client("admin", token="")
    response = await client.get("/internal/identity/info", headers={INTERNAL_TOKEN_HEADER: ""})
    assert response.status == 401


async def test_access_log_has_no_query_string(make_client: MakeClient, caplog: pytest.LogCaptureFixture) -> None:
    client = await make_client()
    with caplog.at_level(logging.INFO, logger="warden.http"):
        await client.get("/health/alive?token=ory_st_supersecret")
    lines = [r.getMessage() for r in caplog.records if r.name == "warden.http"]
    assert lines == ["GET /health/alive 200"]


@pytest.mark.parametrize("port", ["public", "admin"])
@pytest.mark.parametrize("log_health", [True, False])
async def test_disable_for_health_keeps_health_checks_out_of_the_access_log(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture, port: str, log_health: bool
) -> None:
    """Kratos's `serve.<port>.request_log.disable_for_health`: probes every few seconds are noise."""
    client = await make_client(port, log_health=log_health)
    with caplog.at_level(logging.INFO, logger="warden.http"):
        await client.get("/health/alive")
        await client.get("/health/ready")
        await client.get("/version")
    lines = [r.getMessage() for r in caplog.records if r.name == "warden.http"]
    health = ["GET /health/alive 200", "GET /health/ready 200"] if log_health else []
    assert lines == [*health, "GET /version 200"]


@pytest.mark.parametrize(
    "line, secret",
    [
        ("session ory_st_AbC123xyz issued", "AbC123xyz"),
        ("Authorization: Bearer eyJhbGciOi.abc.def", "eyJhbGciOi"),
        ('{"password": "hunter2"}', "hunter2"),
        ("dsn=postgres://user:pa55w0rd@db/x", "pa55w0rd"),
        ("code=123456&flow=x", "123456"),
    ],
)
def test_redact_masks_secrets(line: str, secret: str) -> None:
    assert secret not in redact(line)


@pytest.mark.parametrize("path", ["/health/alive", "/moved"])
async def test_responses_carry_no_version_banner_and_forbid_sniffing(make_client: MakeClient, path: str) -> None:
    """Redirects too: aiohttp sends them as exceptions (the public port's 307 to the admin port)."""
    client = await make_client()
    response = await client.get(path, allow_redirects=False)
    assert response.headers["Server"] == "Warden"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
