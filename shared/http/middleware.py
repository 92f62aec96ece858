"""The one place errors become Kratos's `{"error": {...}}` JSON (`rendered`, which the request kernel
and CORS call), and the admin port's guards: the internal token, and no browser page of another
site, or of a name rebound to the admin port, gets an answer."""

from __future__ import annotations

import hmac
import ipaddress
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
    if isinstance(error, errors.Unauthorized) and error.challenge:
        response.headers["WWW-Authenticate"] = error.challenge
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
        response = error_response(_from_http_exception(exc), request)
        if allowed := exc.headers.get("Allow"):  # a 405 says what the path takes (RFC 9110 15.5.6)
            response.headers["Allow"] = allowed
        return response
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


def browser_page_guard(own_hosts: frozenset[str] = frozenset()) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The admin API has no authentication and reads JSON whatever the Content-Type; browsers mark
    what a page asks (`Sec-Fetch-Site`), SDKs and curl send no such header. Two ways a page could use
    a browser that reaches the admin port (an operator's):
    - another site's page sends a "simple" POST, which needs no CORS preflight: a write marked
      `cross-site` or `same-site` is refused;
    - DNS rebinding: a page of evil.example whose name is then made to resolve to the admin port's
      address is, to the browser, of the same origin, and may read and write everything. Its requests
      carry `Host: evil.example`: a `same-origin` request is answered only for a host the admin port
      can be reached by without a name an attacker controls: an IP address, `localhost` (browsers
      never look it up), or `own_hosts` (the host of `serve.admin.base_url`, for a console served
      beside the admin API behind one proxy)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        site = request.headers.get("Sec-Fetch-Site", "").lower()
        if site in _OTHER_SITES and request.method not in _SAFE_METHODS:
            raise errors.Forbidden("The admin API does not accept requests made by another site's page.")
        if site == "same-origin" and not _unrebindable(request.host, own_hosts):
            raise errors.Forbidden(
                "The admin API answers a web page only on an IP address, localhost, or the host of "
                "serve.admin.base_url."
            )
        return await handler(request)

    return middleware


def _unrebindable(host: str, own_hosts: frozenset[str]) -> bool:
    name = host.lower()
    if name.startswith("["):  # [::1]:4434
        name = name[1 : name.find("]")]
    elif name.count(":") == 1:
        name = name.rsplit(":", 1)[0]
    if name == "localhost" or name.endswith(".localhost") or name in own_hosts:
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
