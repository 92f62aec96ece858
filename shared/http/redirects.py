"""Kratos's answers for a path asked on the wrong port: admin paths on the public port and public
paths on the admin port are sent, with a 307 (method and body kept), to the port that serves them
(Kratos's `redir.RedirectToAdminRoute` and `RedirectToPublicRoute`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

ADMIN_PREFIX = "/admin"


def redirect_to(base_url: str, *, admin: bool) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A handler sending the request to the same path on `base_url` (under `/admin` when `admin`)."""
    base = urlsplit(base_url)
    origin = f"{base.scheme}://{base.netloc}"
    base_path = base.path.rstrip("/")

    async def handler(request: web.Request) -> web.StreamResponse:
        path = (
            request.rel_url.raw_path.removeprefix(ADMIN_PREFIX)
            if request.path.startswith(ADMIN_PREFIX + "/")
            else request.rel_url.raw_path
        )
        target = f"{origin}{base_path}{ADMIN_PREFIX if admin else ''}{path}"
        query = request.rel_url.raw_query_string
        raise web.HTTPTemporaryRedirect(f"{target}?{query}" if query else target)

    return handler
