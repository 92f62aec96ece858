"""What every request goes through, in one middleware: its request id, client address and budget,
errors rendered in Kratos's shape, the metrics and the access log line.

One layer rather than one per concern because each aiohttp middleware costs a coroutine, a frame
and a context-variable reset per request, and a cache-hit whoami does little else: the concerns stay
in their modules (`client_ip`, `budget`, `middleware.rendered`), this only calls them in order.
CORS and the internal-token guard, which not every port runs, stay middlewares of their own."""

from __future__ import annotations

import itertools
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from shared.http.admin_keys import KEY_NAME as ADMIN_KEY_NAME
from shared.http.budget import budget, budget_for
from shared.http.client_ip import TrustedProxies, client_ip
from shared.http.metrics import HttpMetrics
from shared.http.middleware import Handler, rendered
from shared.logging import LineLogger, request_id

log = logging.getLogger("warden.http")

REQUEST_ID_HEADER = "X-Request-Id"
# No version banner (aiohttp would send its own and Python's), and no content sniffing by browsers.
_COMMON_HEADERS = {"Server": "Warden", "X-Content-Type-Options": "nosniff"}
# Kratos's router puts this on every GET (`oryx/httprouterx`); Warden on every answer whose handler
# did not choose (the stylesheet and the WebAuthn script do): flows carry CSRF tokens, and answers
# session tokens, logout tokens and traits, which no cache in front of Warden may keep for the next
# caller.
NO_STORE = "private, no-cache, no-store, must-revalidate"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


class RequestIds:
    """Request ids in a UUID's shape, unique without a system call each: a random version-4 UUID
    drawn once, whose last 48 bits count the requests. (They are labels, not secrets.)"""

    def __init__(self) -> None:
        self._prefix = str(uuid.uuid4())[:24]
        self._count = itertools.count()

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._count) & 0xFFFFFFFFFFFF:012x}"


def request_kernel(
    port: str, metrics: HttpMetrics, proxies: TrustedProxies, unlogged: frozenset[str] = frozenset()
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware; paths in `unlogged` (the health checks, with Kratos's
    `request_log.disable_for_health`) are counted but not logged."""
    new_id = RequestIds()
    access_line = LineLogger(log)
    on_admin_port = port == "admin"  # where admin API keys are presented: whoami's lines skip the lookup

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER)
        rid = incoming if incoming and _SAFE_REQUEST_ID.match(incoming) else new_id()
        contexts = (request_id.set(rid), client_ip.set(proxies.client_of(request)), budget.set(budget_for(request)))
        started = time.perf_counter()
        status = 500
        try:
            response = await rendered(request, handler)
            status = response.status
            headers = response.headers
            headers.update(_COMMON_HEADERS)
            headers[REQUEST_ID_HEADER] = rid
            if "Cache-Control" not in headers:
                headers["Cache-Control"] = NO_STORE
            return response
        except web.HTTPException as exc:  # a redirect: aiohttp sends it as an exception
            status = exc.status
            exc.headers.update(_COMMON_HEADERS)  # else aiohttp's own banner: Python's and its version
            exc.headers[REQUEST_ID_HEADER] = rid
            exc.headers.setdefault("Cache-Control", NO_STORE)  # it may set a session or CSRF cookie
            raise
        finally:
            elapsed = time.perf_counter() - started
            metrics.observe(port, request.method, _route_label(request), status, elapsed)
            path = request.path
            # The path only: query strings may carry flow ids, codes or tokens.
            if path not in unlogged:
                fields = {"port": port, "status": status, "duration_ms": round(elapsed * 1000, 2)}
                if on_admin_port and (key_name := request.get(ADMIN_KEY_NAME)) is not None:
                    fields["api_key_name"] = key_name  # whose admin action it was
                access_line("%s %s %d", (request.method, path, status), fields)
            budget.reset(contexts[2])
            client_ip.reset(contexts[1])
            request_id.reset(contexts[0])

    return middleware


def _route_label(request: web.Request) -> str:
    info = request.match_info
    route = info.route if info is not None else None
    resource = route.resource if route is not None else None
    return resource.canonical if resource is not None else "unmatched"
