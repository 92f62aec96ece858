"""Finding the session token a request carries: `X-Session-Token`, the signed session cookie, or
`Authorization: Bearer`, in Kratos's order."""

from __future__ import annotations

from aiohttp import web

from services.session.config import CookieConfig
from services.session.tokens import CookieSigner


def session_token(request: web.Request, cookie: CookieConfig, signer: CookieSigner | None) -> str | None:
    if token := request.headers.get("X-Session-Token"):
        return token.strip()
    if signer is not None and (value := request.cookies.get(cookie.name)):
        if token := signer.verify(value):
            return token
    authorization = request.headers.get("Authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def set_session_cookie(response: web.StreamResponse, token: str, max_age: int, cookie: CookieConfig, signer: CookieSigner) -> None:
    response.set_cookie(
        cookie.name, signer.sign(token), max_age=max_age if cookie.persistent else None, path=cookie.path,
        domain=cookie.domain, secure=cookie.secure, httponly=True, samesite=cookie.same_site,
    )
