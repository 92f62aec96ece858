"""`serve.public.cors`: Kratos's keys and rs/cors's behaviour on the public port.

Off unless `enabled`. A preflight (OPTIONS with `Origin` and `Access-Control-Request-Method`) is
answered here, before routing, with 204: the allow headers when the origin, method and headers are
allowed, none otherwise (the browser then refuses the real request). Other requests from an allowed
origin get `Access-Control-Allow-Origin` and friends added. With `*` among the origins, the answer is
the literal `*`, which browsers never pair with credentials: a wildcard cannot be turned into
"every site may read this user's session".

With `debug`, each decision on a request that carries `Origin` is logged at INFO, as Kratos's rs/cors
prints them whatever the log level: the origin, the method and the names of the requested headers,
never a header's value (no cookie or token reaches the log).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from shared.http.middleware import rendered

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
KEY = "serve.public.cors"
DEFAULT_METHODS = ("POST", "GET", "PUT", "PATCH", "DELETE")
DEFAULT_HEADERS = ("Authorization", "Content-Type", "Max-Age", "X-Session-Token", "X-XSRF-TOKEN", "X-CSRF-TOKEN")
# Always allowed by browsers without asking (the CORS-safelisted request headers).
_SIMPLE_HEADERS = {"accept", "accept-language", "content-language", "origin"}


@dataclass(frozen=True)
class CorsPolicy:
    allowed_origins: tuple[str, ...] = ("*",)
    allowed_methods: tuple[str, ...] = DEFAULT_METHODS
    allowed_headers: tuple[str, ...] = DEFAULT_HEADERS
    exposed_headers: tuple[str, ...] = ("Content-Type",)
    allow_credentials: bool = True
    max_age: int = 0
    options_passthrough: bool = False
    debug: bool = False

    @classmethod
    def from_settings(cls, settings: Any) -> CorsPolicy | None:
        """The policy, or None when CORS is not enabled."""
        config = settings.get(KEY) or {}
        if not config.get("enabled"):
            return None
        return cls(
            allowed_origins=tuple(config.get("allowed_origins") or ("*",)),
            allowed_methods=tuple(m.upper() for m in config.get("allowed_methods") or DEFAULT_METHODS),
            allowed_headers=tuple(config.get("allowed_headers") or DEFAULT_HEADERS),
            exposed_headers=tuple(config.get("exposed_headers") or ("Content-Type",)),
            allow_credentials=bool(config.get("allow_credentials", True)),
            max_age=int(config.get("max_age") or 0),
            options_passthrough=bool(config.get("options_passthrough", False)),
            debug=bool(config.get("debug", False)),
        )

    @property
    def any_origin(self) -> bool:
        return "*" in self.allowed_origins

    def origin_allowed(self, origin: str) -> bool:
        origin = origin.lower()
        return self.any_origin or any(_origin_matches(pattern.lower(), origin) for pattern in self.allowed_origins)

    def headers_allowed(self, requested: Sequence[str]) -> bool:
        allowed = {h.lower() for h in self.allowed_headers} | _SIMPLE_HEADERS
        return "*" in allowed or all(h.lower() in allowed for h in requested)

    def allow_origin_value(self, origin: str) -> str:
        return "*" if self.any_origin else origin


def _origin_matches(pattern: str, origin: str) -> bool:
    """`https://*.example.com`: one wildcard standing for zero or more characters (Kratos's schema
    allows one per origin)."""
    if "*" not in pattern:
        return pattern == origin
    prefix, suffix = pattern.split("*", 1)
    return len(origin) >= len(prefix) + len(suffix) and origin.startswith(prefix) and origin.endswith(suffix)


def cors_middleware(policy: CorsPolicy) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS" and origin and "Access-Control-Request-Method" in request.headers:
            if policy.options_passthrough:
                response = await rendered(request, handler)
                _preflight_headers(policy, request, origin, response)
                return response
            response = web.Response(status=204)
            _preflight_headers(policy, request, origin, response)
            return response
        response = await rendered(request, handler)  # errors too: a SPA can read a 401
        response.headers.add("Vary", "Origin")
        allowed = bool(origin) and policy.origin_allowed(origin or "")
        if origin and policy.debug:
            verdict = "allowed" if allowed else "refused, no CORS headers added: origin not allowed"
            log.info("cors: %s request from origin %r: %s", request.method, origin, verdict)
        if origin and allowed:
            response.headers["Access-Control-Allow-Origin"] = policy.allow_origin_value(origin)
            if policy.allow_credentials:
                response.headers["Access-Control-Allow-Credentials"] = "true"
            if policy.exposed_headers:
                response.headers["Access-Control-Expose-Headers"] = ", ".join(policy.exposed_headers)
        return response

    return middleware


def _preflight_headers(policy: CorsPolicy, request: web.Request, origin: str, response: web.StreamResponse) -> None:
    for varied in ("Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"):
        response.headers.add("Vary", varied)
    method = request.headers["Access-Control-Request-Method"].upper()
    requested = [h.strip() for h in request.headers.get("Access-Control-Request-Headers", "").split(",") if h.strip()]
    refusal = _preflight_refusal(policy, origin, method, requested)
    if policy.debug:
        verdict = "allowed" if refusal is None else f"refused: {refusal}"
        log.info("cors: preflight from origin %r for %s with headers %s: %s", origin, method, requested, verdict)
    if refusal is not None:
        return
    response.headers["Access-Control-Allow-Origin"] = policy.allow_origin_value(origin)
    response.headers["Access-Control-Allow-Methods"] = method
    if requested:
        response.headers["Access-Control-Allow-Headers"] = ", ".join(requested)
    if policy.allow_credentials:
        response.headers["Access-Control-Allow-Credentials"] = "true"
    if policy.max_age > 0:
        response.headers["Access-Control-Max-Age"] = str(policy.max_age)


def _preflight_refusal(policy: CorsPolicy, origin: str, method: str, requested: Sequence[str]) -> str | None:
    """Why a preflight gets no allow headers (rs/cors's order: origin, method, headers), or None."""
    if not policy.origin_allowed(origin):
        return "origin not allowed"
    if method not in policy.allowed_methods:
        return f"method {method} not allowed"
    if not policy.headers_allowed(requested):
        return f"headers {list(requested)} not allowed"
    return None
