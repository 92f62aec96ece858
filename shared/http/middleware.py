"""The middlewares every Warden app runs: request id and access log, metrics, the internal-token
guard, and the one place errors become Kratos's `{"error": {...}}` JSON."""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

import sqlalchemy.exc
from aiohttp import web

from shared import errors
from shared.clients.http import INTERNAL_TOKEN_HEADER
from shared.http.metrics import HttpMetrics
from shared.logging import request_id

log = logging.getLogger("warden.http")

REQUEST_ID_HEADER = "X-Request-Id"
# No version banner (aiohttp would send its own and Python's), and no content sniffing by browsers.
_COMMON_HEADERS = {"Server": "Warden", "X-Content-Type-Options": "nosniff"}
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# OSError covers refused and reset connections and socket timeouts; SQLAlchemy's TimeoutError is an
# exhausted pool, OperationalError and InterfaceError a database that dropped or refused us.
_UNREACHABLE = (
    OSError,
    errors.BusUnavailable,
    errors.CacheUnavailable,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
)


def error_response(error: errors.WardenError, request: web.Request) -> web.Response:
    body = error.to_json()
    if rid := request_id.get():
        body["error"]["request"] = rid
    response = web.json_response(body, status=error.code)
    if isinstance(error, errors.TooManyRequests | errors.ServiceUnavailable):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def dependency_down(exc: BaseException) -> bool:
    """An exception that says a dependency could not be reached or has gone away (refused, reset,
    timed out, a pool connection invalidated, a pool exhausted), not that Warden has a bug."""
    seen: BaseException | None = exc
    for _ in range(5):  # the cause chain: SQLAlchemy wraps the driver's error, which wraps the socket's
        if seen is None:
            return False
        if isinstance(seen, _UNREACHABLE) or getattr(seen, "connection_invalidated", False):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _from_http_exception(exc: web.HTTPException) -> errors.WardenError:
    error = errors.WardenError(message=exc.reason)
    error.code = exc.status
    return error


@web.middleware
async def render_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        if "\x00" in request.path or any("\x00" in v for v in request.query.values()):
            raise errors.BadRequest("The URL contains a NUL character.")
        return await handler(request)
    except errors.WardenError as exc:
        return error_response(exc, request)
    except web.HTTPException as exc:
        if exc.status < 400:  # redirects travel as exceptions in aiohttp
            raise
        return error_response(_from_http_exception(exc), request)
    except Exception as exc:
        if dependency_down(exc):
            log.warning(
                "a dependency is unavailable answering %s %s: %s", request.method, request.path, type(exc).__name__
            )
            return error_response(errors.ServiceUnavailable("a dependency is unavailable, try again shortly"), request)
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return error_response(errors.WardenError(), request)


def request_context(
    port: str, metrics: HttpMetrics, unlogged: frozenset[str] = frozenset()
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The request id, the metrics and the access log line of every request; paths in `unlogged`
    (the health checks, with Kratos's `request_log.disable_for_health`) are counted but not logged."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        token = request_id.set(incoming if _SAFE_REQUEST_ID.match(incoming) else str(uuid.uuid4()))
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            response.headers.update(_COMMON_HEADERS)
            response.headers[REQUEST_ID_HEADER] = request_id.get() or ""
            return response
        except web.HTTPException as exc:
            status = exc.status
            exc.headers[REQUEST_ID_HEADER] = request_id.get() or ""
            raise
        finally:
            elapsed = time.perf_counter() - started
            route = _route_label(request)
            metrics.observe(port, request.method, route, status, elapsed)
            # The path only: query strings may carry flow ids, codes or tokens.
            if log.isEnabledFor(logging.INFO) and request.path not in unlogged:
                log.info(
                    "%s %s %d",
                    request.method,
                    request.path,
                    status,
                    extra={"port": port, "status": status, "duration_ms": round(elapsed * 1000, 2)},
                )
            request_id.reset(token)

    return middleware


def internal_guard(token: str) -> Callable[..., Awaitable[web.StreamResponse]]:
    """`/internal/` paths answer only callers that present the shared internal token; with no token
    configured they answer nobody."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/internal/"):
            presented = request.headers.get(INTERNAL_TOKEN_HEADER, "")
            if not token or not hmac.compare_digest(presented.encode(), token.encode()):
                raise errors.Unauthorized("the internal API needs the internal token")
        return await handler(request)

    return middleware


def _route_label(request: web.Request) -> str:
    info = request.match_info
    route = info.route if info is not None else None
    resource = route.resource if route is not None else None
    return resource.canonical if resource is not None else "unmatched"
