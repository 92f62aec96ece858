"""The one place errors become Kratos's `{"error": {...}}` JSON (`rendered`, which the request kernel
and CORS call), and the admin port's guards: the internal token, and no writes from other sites."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

import sqlalchemy.exc
from aiohttp import web

from shared import errors
from shared.clients.http import INTERNAL_TOKEN_HEADER, INTERNAL_TOKEN_REFUSED
from shared.logging import request_id

log = logging.getLogger("warden.http")

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
    if exc.status == 404:  # no route: Kratos's router answers with herodot's ErrNotFound, as nginx does
        return errors.NotFound()
    error = errors.WardenError(message=exc.reason)
    error.code = exc.status
    return error


async def rendered(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The handler's response, or its error as a response (redirects, which aiohttp raises, go on)."""
    try:
        # The decoded path and query string (`%00` decoded): no need to parse the query into pairs.
        if "\x00" in request.path or "\x00" in request.query_string:
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


def internal_guard(token: str) -> Callable[..., Awaitable[web.StreamResponse]]:
    """`/internal/` paths answer only callers that present the shared internal token; with no token
    configured they answer nobody."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/internal/"):
            presented = request.headers.get(INTERNAL_TOKEN_HEADER, "")
            if not token or not hmac.compare_digest(presented.encode(), token.encode()):
                refusal = errors.Unauthorized("the internal API needs the internal token")
                refusal.error_id = INTERNAL_TOKEN_REFUSED  # so that a Warden client tells it from a user's 401
                raise refusal
        return await handler(request)

    return middleware


# Methods that change nothing: a link to the admin API opened from another site still opens.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What a browser says of a request another site's page made (Fetch Metadata); tools send no such header.
_OTHER_SITES = frozenset({"cross-site", "same-site"})


def cross_site_write_guard() -> Callable[..., Awaitable[web.StreamResponse]]:
    """The admin API has no authentication and reads JSON whatever the Content-Type, so a page on any
    site could make a browser that reaches the admin port (an operator's) send it a "simple" POST,
    which needs no CORS preflight. The browser marks such a request `Sec-Fetch-Site: cross-site`:
    a write so marked is refused. SDKs and curl send no such header, and a page of the admin origin
    itself sends `same-origin`."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method not in _SAFE_METHODS and request.headers.get("Sec-Fetch-Site", "").lower() in _OTHER_SITES:
            raise errors.Forbidden("The admin API does not accept requests made by another site's page.")
        return await handler(request)

    return middleware
