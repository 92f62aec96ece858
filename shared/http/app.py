"""The aiohttp app factory: one app per port, holding the routes of the services a process runs,
health and version endpoints, and (on the admin port) Prometheus metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware

from shared.http.admin_keys import AdminKeys, admin_key_guard
from shared.http.client_ip import TrustedProxies
from shared.http.cors import CorsPolicy, cors_middleware
from shared.http.kernel import request_kernel
from shared.http.middleware import browser_page_guard, internal_guard
from shared.metrics import Metrics
from shared.tracing.spans import only_inside_a_trace
from shared.version import warden_version

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# What Kratos's `serve.<port>.request_log.disable_for_health` keeps out of the access log.
HEALTH_PATHS = frozenset({"/health/alive", "/health/ready"})
READY_CHECK_TIMEOUT_SECONDS = 2.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class ReadinessCheck:
    name: str
    check: Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class BoundRoute:
    method: str
    path: str
    handler: Handler


def create_app(
    *,
    port: str,
    routes: Sequence[BoundRoute],
    readiness: Sequence[ReadinessCheck],
    metrics: Metrics,
    internal_token: str = "",
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    trusted_proxies: TrustedProxies | None = None,
    cors: CorsPolicy | None = None,
    log_health_requests: bool = True,
    admin_hosts: frozenset[str] = frozenset(),
    admin_keys: AdminKeys | None = None,
) -> web.Application:
    unlogged = frozenset() if log_health_requests else HEALTH_PATHS
    middlewares: list[Middleware] = [request_kernel(port, metrics.http, trusted_proxies or TrustedProxies(), unlogged)]
    if port == "admin":  # the internal API lives on the admin port only
        middlewares += [browser_page_guard(admin_hosts), internal_guard(internal_token)]
        if admin_keys is not None:  # Warden's serve.admin.api_keys; without them, open as Kratos's
            middlewares.append(admin_key_guard(admin_keys))
    elif cors is not None:  # Kratos's serve.public.cors, on the public port only
        middlewares.append(cors_middleware(cors))
    app = web.Application(middlewares=middlewares, client_max_size=max_body_bytes)
    app.router.add_get("/health/alive", _alive)
    app.router.add_get("/health/ready", _ready(readiness))
    app.router.add_get("/version", _version)
    if port == "admin":
        app.router.add_get("/metrics", _metrics(metrics))
        app.router.add_get("/metrics/prometheus", _metrics(metrics))  # Kratos's name for the same page
    for route in routes:
        app.router.add_route(route.method, route.path, route.handler)
    return app


async def _alive(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _version(_request: web.Request) -> web.Response:
    return web.json_response({"version": warden_version()})


def _ready(checks: Sequence[ReadinessCheck]) -> Handler:
    async def handler(_request: web.Request) -> web.Response:
        with only_inside_a_trace():
            results = await asyncio.gather(*(_run_check(c) for c in checks))
        failed = {c.name: "not reachable" for c, ok in zip(checks, results) if not ok}
        if failed:
            return web.json_response({"errors": failed}, status=503)
        return web.json_response({"status": "ok"})

    return handler


async def _run_check(check: ReadinessCheck) -> bool:
    try:
        return await asyncio.wait_for(check.check(), READY_CHECK_TIMEOUT_SECONDS)
    except Exception:
        return False


def _metrics(metrics: Metrics) -> Handler:
    async def handler(_request: web.Request) -> web.Response:
        with only_inside_a_trace():  # a scrape probes the dependencies (shared.metrics.health)
            body, content_type = await metrics.render()
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response

    return handler
