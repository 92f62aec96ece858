"""The browser a paused settings change belongs to (Kratos's continuity container, whose cookie is
`ory_kratos_continuity`).

A change that needs a fresh sign-in is kept with the flow and applied when the re-authenticated
browser returns. The session alone cannot say which browser that is: a copied session cookie is the
same session in two browsers, and whoever holds the copy could pause a change and lead the owner to
the re-authentication link, whose sign-in would then apply it. So the browser that paused the change
gets a random token in a cookie; the flow keeps only its hash, and resuming needs the cookie."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from aiohttp import web

from shared.cookies import CookieConfig, request_cookie

COOKIE = "ory_kratos_continuity"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def set_cookie(response: web.StreamResponse, config: CookieConfig, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        path=config.path,
        domain=config.domain,
        secure=config.secure,
        httponly=True,
        samesite=config.same_site,
    )


def belongs_to(request: web.Request, expected_digest: object) -> bool:
    """Whether this browser paused the change whose token hashes to `expected_digest`."""
    token = request_cookie(request, COOKIE)
    if not token or not isinstance(expected_digest, str):
        return False
    return hmac.compare_digest(digest(token), expected_digest)
