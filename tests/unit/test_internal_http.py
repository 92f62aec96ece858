"""The internal-HTTP client adapter: token, typed errors, retries only on idempotent calls, timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from shared import errors
from shared.clients.http import HttpServiceClient, InternalCallFailed, InternalHttp, internal_session
from shared.http.app import BoundRoute, create_app
from shared.metrics import Metrics
from tests.conftest import free_port

TOKEN = "internal-token-for-tests"


class Flaky:
    """Answers 503 for the first `failures` calls of each path, then 200; counts calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: dict[str, int] = {}

    async def handle(self, request: web.Request) -> web.Response:
        self.calls[request.path] = self.calls.get(request.path, 0) + 1
        if self.calls[request.path] <= self.failures:
            raise errors.ServiceUnavailable("warming up")
        return web.json_response({"service": "identity", "version": "test"})


async def _missing(_r: web.Request) -> web.Response:
    raise errors.NotFound("identity 42 does not exist")


async def _slow(_r: web.Request) -> web.Response:
    await asyncio.sleep(2)
    return web.json_response({})


@contextlib.asynccontextmanager
async def serving(
    *routes: BoundRoute, pool_size: int | None = None
) -> AsyncIterator[tuple[TestServer, aiohttp.ClientSession]]:
    """An admin app answering `routes` on a test server, and a client's internal session; both closed after."""
    app = create_app(port="admin", routes=list(routes), readiness=[], metrics=Metrics(), internal_token=TOKEN)
    test_server = TestServer(app)
    await test_server.start_server()
    session = internal_session() if pool_size is None else internal_session(pool_size=pool_size)
    try:
        yield test_server, session
    finally:
        await session.close()
        await test_server.close()


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Flaky]]:
    flaky = Flaky(failures=2)
    routes = [
        BoundRoute("GET", "/internal/identity/info", flaky.handle),
        BoundRoute("POST", "/internal/identity/write", flaky.handle),
        BoundRoute("GET", "/internal/identity/missing", _missing),
        BoundRoute("GET", "/internal/identity/slow", _slow),
    ]
    app = create_app(port="admin", routes=routes, readiness=[], metrics=Metrics(), internal_token=TOKEN)
    test_server = TestServer(app)
    await test_server.start_server()
    yield str(test_server.make_url("")), flaky
    await test_server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def test_idempotent_call_is_retried_until_it_succeeds(
    server: tuple[str, Flaky], session: aiohttp.ClientSession
) -> None:
    url, flaky = server
    client = HttpServiceClient("identity", InternalHttp(url, TOKEN, session, retries=2, backoff_seconds=0.01))
    assert await client.info() == {"service": "identity", "version": "test"}
    assert flaky.calls["/internal/identity/info"] == 3


async def test_non_idempotent_call_is_never_repeated(server: tuple[str, Flaky], session: aiohttp.ClientSession) -> None:
    url, flaky = server
    http = InternalHttp(url, TOKEN, session, retries=5, backoff_seconds=0.01)
    with pytest.raises(errors.ServiceUnavailable):
        await http.call("POST", "/internal/identity/write", {"x": 1})
    assert flaky.calls["/internal/identity/write"] == 1


async def test_server_errors_come_back_typed(server: tuple[str, Flaky], session: aiohttp.ClientSession) -> None:
    url, _ = server
    with pytest.raises(errors.NotFound, match="identity 42 does not exist"):
        await InternalHttp(url, TOKEN, session).call("GET", "/internal/identity/missing")


async def test_a_refused_token_is_the_service_unavailable_and_not_asked_again(
    server: tuple[str, Flaky], session: aiohttp.ClientSession
) -> None:
    """The processes' tokens disagree: the caller's own user must not get a 401 about Warden's
    internal API, and asking again cannot help."""
    url, flaky = server
    with pytest.raises(errors.ServiceUnavailable) as refused:
        await InternalHttp(url, "not-the-token", session).call("GET", "/internal/identity/info")
    assert "token" not in str(refused.value.to_json())


async def test_timeout_and_refused_connection_are_service_unavailable(
    server: tuple[str, Flaky], session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """The user's answer names no internal path; the operator's log does."""
    url, _ = server
    caplog.set_level(logging.WARNING, logger="shared.clients.http")
    with pytest.raises(errors.ServiceUnavailable) as slow:
        await InternalHttp(url, TOKEN, session, timeout_seconds=0.2, retries=0).call("GET", "/internal/identity/slow")
    nobody = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(errors.ServiceUnavailable) as down:
        await InternalHttp(nobody, TOKEN, session, retries=1, backoff_seconds=0.01).call(
            "GET", "/internal/identity/info"
        )
    for refused in (slow, down):
        assert "/internal" not in json.dumps(refused.value.to_json()), refused.value.to_json()
    logged = [r.getMessage() for r in caplog.records]
    assert any("/internal/identity/slow" in line and "TimeoutError" in line for line in logged), logged
    assert any("/internal/identity/info" in line for line in logged), logged


NGINX_502 = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"


async def test_finding_16_a_proxys_html_error_page_is_service_unavailable_not_a_json_error(
    session: aiohttp.ClientSession,
) -> None:
    """Review finding 16: behind nginx, a replica that is down answers nginx's HTML 502; reading it
    as JSON raised a decoding error that became a 500. It is the dependency being down: a 503."""
    calls = 0

    async def bad_gateway(_r: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.Response(status=502, body=NGINX_502, content_type="text/html")

    async def html_ok(_r: web.Request) -> web.Response:
        return web.Response(status=200, body=b"<html>maintenance</html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/internal/identity/info", bad_gateway)
    app.router.add_get("/internal/identity/html", html_ok)
    test_server = TestServer(app)
    await test_server.start_server()
    try:
        http = InternalHttp(str(test_server.make_url("")), TOKEN, session, retries=1, backoff_seconds=0.01)
        with pytest.raises(errors.ServiceUnavailable) as down:
            await http.call("GET", "/internal/identity/info")
        assert calls == 2 and down.value.retry_after >= 1  # retried once, as an idempotent call may be
        with pytest.raises(errors.ServiceUnavailable, match="text/html"):
            await http.call("GET", "/internal/identity/html")
    finally:
        await test_server.close()


async def test_a_third_partys_failure_the_service_reports_comes_back_as_such(session: aiohttp.ClientSession) -> None:
    """The password migration hook fails in the identity service: self-service, in another process,
    raises the same 502 or 504 for its user as in one process. A 502 in JSON of another shape (a
    proxy's) is the service being unreachable."""

    async def hook_down(_r: web.Request) -> web.Response:
        raise errors.BadGateway("A third-party upstream service could not be reached.", message="hook failed")

    async def hook_slow(_r: web.Request) -> web.Response:
        raise errors.GatewayTimeout("It did not answer in time.")

    async def proxy_json(_r: web.Request) -> web.Response:
        return web.json_response({"message": "upstream connect error"}, status=502)

    routes = [
        BoundRoute("POST", "/internal/identity/down", hook_down),
        BoundRoute("POST", "/internal/identity/slow", hook_slow),
        BoundRoute("POST", "/internal/identity/proxy", proxy_json),
    ]
    async with serving(*routes) as (test_server, _):
        http = InternalHttp(str(test_server.make_url("")), TOKEN, session, retries=0)
        with pytest.raises(errors.BadGateway) as down:
            await http.call("POST", "/internal/identity/down", {})
        assert (down.value.reason, down.value.message) == (
            "A third-party upstream service could not be reached.",
            "hook failed",
        )
        with pytest.raises(errors.GatewayTimeout, match="It did not answer in time."):
            await http.call("POST", "/internal/identity/slow", {})
        with pytest.raises(errors.ServiceUnavailable):
            await http.call("POST", "/internal/identity/proxy", {})


async def test_a_client_reuses_one_keep_alive_connection_and_sends_compact_json() -> None:
    """The distributed hops (selfservice -> identity -> session) pay one TCP connection per client,
    not one per call, and no whitespace in their JSON."""
    peers: list[tuple[str, int]] = []
    bodies: list[bytes] = []

    async def echo(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername"))  # type: ignore[union-attr]
        bodies.append(await request.read())
        return web.json_response({"ok": True})

    async with serving(BoundRoute("POST", "/internal/identity/echo", echo)) as (test_server, session):
        http = InternalHttp(str(test_server.make_url("")), TOKEN, session)
        for n in range(5):
            assert await http.call("POST", "/internal/identity/echo", {"n": n, "traits": {"a": [1, 2]}}) == {"ok": True}
    assert len(set(peers)) == 1, "five calls, one connection"
    assert bodies[0] == b'{"n":0,"traits":{"a":[1,2]}}'


async def test_concurrent_calls_share_the_clients_sized_pool() -> None:
    peers: set[tuple[str, int]] = set()

    async def slow_echo(request: web.Request) -> web.Response:
        peers.add(request.transport.get_extra_info("peername"))  # type: ignore[union-attr]
        await asyncio.sleep(0.05)
        return web.json_response({})

    async with serving(BoundRoute("GET", "/internal/identity/echo", slow_echo), pool_size=3) as (test_server, session):
        http = InternalHttp(str(test_server.make_url("")), TOKEN, session)
        for _ in range(2):
            await asyncio.gather(*(http.call("GET", "/internal/identity/echo") for _ in range(12)))
    assert 1 <= len(peers) <= 3, "24 calls, 12 at a time, over at most the pool's 3 connections"


async def test_a_cookie_one_answer_sets_never_rides_on_the_next_call() -> None:
    """The internal calls are made for many users over one session: no cookie jar. (By a host name:
    aiohttp's jar keeps no cookie of an IP address's.)"""
    seen: list[str | None] = []

    async def sets_a_cookie(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie"))
        response = web.json_response({})
        response.set_cookie("ory_kratos_session", "someone-elses")
        return response

    async with serving(BoundRoute("GET", "/internal/session/cookie", sets_a_cookie)) as (test_server, session):
        http = InternalHttp(f"http://localhost:{test_server.port}", TOKEN, session)
        for _ in range(2):
            assert await http.call("GET", "/internal/session/cookie") == {}
    assert seen == [None, None]


async def test_a_redirect_is_not_followed_so_the_token_and_body_stay_with_the_service() -> None:
    """An internal URL that answers 307 (a proxy, a misconfigured port) must not make the client send
    the internal token, and a body such as a password to check, on to wherever it points."""
    received: list[tuple[str | None, bytes]] = []

    async def elsewhere(request: web.Request) -> web.Response:
        received.append((request.headers.get("X-Warden-Internal-Token"), await request.read()))
        return web.json_response({"identity": {"id": "stolen"}})

    other_app = web.Application()
    other_app.router.add_route("*", "/{tail:.*}", elsewhere)
    other = TestServer(other_app)
    await other.start_server()

    redirected: list[str] = []

    async def redirect(request: web.Request) -> web.Response:
        redirected.append(request.path)
        raise web.HTTPTemporaryRedirect(str(other.make_url(request.path)))

    routes = (
        BoundRoute("POST", "/internal/identity/passwords/verify", redirect),
        BoundRoute("GET", "/internal/identity/info", redirect),
    )
    async with serving(*routes) as (server, session):
        http = InternalHttp(str(server.make_url("")), TOKEN, session, retries=3, backoff_seconds=0.01)
        with pytest.raises(errors.ServiceUnavailable):
            await http.call("POST", "/internal/identity/passwords/verify", {"password": "hunter2-secret"})
        with pytest.raises(errors.ServiceUnavailable):
            await http.call("GET", "/internal/identity/info")  # idempotent, yet not asked again
    await other.close()
    assert received == []
    assert redirected == ["/internal/identity/passwords/verify", "/internal/identity/info"]


async def test_a_failure_of_the_called_service_is_a_generic_500_asked_once(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """The called service's own 500 (a bug, or a typed one such as the migration hook's body template
    failing) is a 500 for the user, as in one process, not a 503 to try again: it is not asked again,
    and its words and the internal path stay in the caller's log. A 500 in another shape (a proxy's)
    is the service being unreachable."""
    calls: dict[str, int] = {}

    def counted(handler: Any) -> Any:
        async def handle(request: web.Request) -> web.Response:
            calls[request.path] = calls.get(request.path, 0) + 1
            return await handler(request)  # type: ignore[no-any-return]

        return handle

    async def bug(_r: web.Request) -> web.Response:
        raise RuntimeError("a bug in the identity service")

    async def typed(_r: web.Request) -> web.Response:
        raise errors.WardenError("template line 3", message="the body template failed")

    async def proxy_json(_r: web.Request) -> web.Response:
        return web.json_response({"message": "upstream error"}, status=500)

    async def proxy_html(_r: web.Request) -> web.Response:
        return web.Response(status=500, body=b"<html>oops</html>", content_type="text/html")

    routes = [
        BoundRoute("GET", f"/internal/identity/{name}", counted(handler))
        for name, handler in (("bug", bug), ("typed", typed), ("proxy-json", proxy_json), ("proxy-html", proxy_html))
    ]
    caplog.set_level(logging.ERROR, logger="shared.clients.http")
    async with serving(*routes) as (test_server, _):
        http = InternalHttp(str(test_server.make_url("")), TOKEN, session, retries=2, backoff_seconds=0.01)
        for name in ("bug", "typed"):
            with pytest.raises(InternalCallFailed) as failed:
                await http.call("GET", f"/internal/identity/{name}")
            assert failed.value.code == 500 and failed.value.to_json() == errors.WardenError().to_json()
            assert calls[f"/internal/identity/{name}"] == 1, "a failure is not asked again"
        for name in ("proxy-json", "proxy-html"):
            with pytest.raises(errors.ServiceUnavailable):
                await http.call("GET", f"/internal/identity/{name}")
            assert calls[f"/internal/identity/{name}"] == 3
    logged = [r.getMessage() for r in caplog.records if r.name == "shared.clients.http"]
    assert any("/internal/identity/typed" in line and "the body template failed" in line for line in logged), logged
    assert any("/internal/identity/bug" in line for line in logged), logged
