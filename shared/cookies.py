"""The session cookie, shared by whoever sets it (self-service flows) and whoever reads it (sessions).

The cookie carries the session token and the session's expiry when the cookie was set, signed with
HMAC-SHA256 under the first of `secrets.cookie` (or `secrets.default`); any secret in the list
verifies, so secrets rotate without logging anyone out. The expiry is there for whoami, as in Kratos
(`RefreshCookie`): a session extended since the cookie was set outlives the cookie's Max-Age, and
whoami sets the cookie again. (Cookies from before the expiry was signed, `token.mac`, still verify.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from aiohttp import web


class CookieSigner:
    def __init__(self, secrets_: Sequence[str]) -> None:
        if not secrets_:
            raise ValueError(
                "secrets.cookie (or secrets.default) must hold at least one secret to sign session cookies"
            )
        self._keys = [s.encode() for s in secrets_]

    def sign(self, token: str, expires_at: int | None = None) -> str:
        """`token.expires_at.mac` (a session token has no dot: `ory_st_` and URL-safe base64)."""
        signed = token if expires_at is None else f"{token}.{expires_at}"
        return f"{signed}.{self._mac(self._keys[0], signed)}"

    def verify(self, value: str) -> str | None:
        opened = self.open(value)
        return opened.token if opened else None

    def open(self, value: str) -> SignedCookie | None:
        """The token and the expiry a cookie was signed with, or None for a cookie that is not ours."""
        if not value.isascii():  # ours are; compare_digest refuses other text (a 500, not a None)
            return None
        signed, _, mac = value.rpartition(".")
        if not signed or not mac:
            return None
        matches = [hmac.compare_digest(mac, self._mac(key, signed)) for key in self._keys]  # every key: even timing
        if not any(matches):
            return None
        token, _, expires_at = signed.partition(".")
        return SignedCookie(token, int(expires_at) if expires_at.isascii() and expires_at.isdigit() else None)

    @staticmethod
    def _mac(key: bytes, token: str) -> str:
        digest = hmac.new(key, token.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class SignedCookie:
    token: str
    expires_at: int | None  # Unix seconds; None in a cookie set before the expiry was signed


@dataclass(frozen=True)
class CookieConfig:
    name: str
    domain: str | None
    path: str
    same_site: str
    secure: bool
    persistent: bool

    @classmethod
    def session_cookie(cls, settings: Any) -> CookieConfig:
        """`session.cookie.*`, falling back to `cookies.*`, as Kratos reads them."""
        return cls._read(
            settings,
            settings.get("session.cookie.name") or "ory_kratos_session",
            own="session.cookie.",
            persistent=bool(settings.get("session.cookie.persistent", True)),
        )

    @classmethod
    def general(cls, settings: Any, name: str) -> CookieConfig:
        """`cookies.*` alone: the CSRF cookie's settings in Kratos (`session.cookie.*` is the session
        cookie's only, so making that one cross-site does not make the CSRF cookie so)."""
        return cls._read(settings, name, own=None, persistent=True)

    @classmethod
    def _read(cls, settings: Any, name: str, *, own: str | None, persistent: bool) -> CookieConfig:
        """A cookie's `own` keys (a prefix), each falling back to the same key under `cookies.`."""

        def setting(key: str) -> Any:
            value = settings.get(own + key) if own else None
            return settings.get(f"cookies.{key}") if value is None or value == "" else value

        secure = _flag(setting("secure"), not settings.dev)
        return cls(
            name=name,
            domain=setting("domain") or None,
            path=setting("path") or "/",
            same_site=_same_site(setting("same_site"), secure),
            secure=secure,
            persistent=persistent,
        )


def _flag(value: Any, default: bool) -> bool:
    """Kratos's `secure` keys are strings ("true"); YAML may give a boolean."""
    return default if value is None or value == "" else str(value).lower() == "true"


def _same_site(configured: Any, secure: bool) -> str:
    """The configured SameSite, Lax by default. `None` needs `Secure` (browsers drop such a cookie
    otherwise): without it, Lax, as Kratos does."""
    same_site = str(configured or "Lax")
    return "Lax" if same_site.lower() == "none" and not secure else same_site


def session_cookie_signer(settings: Any) -> CookieSigner | None:
    keys = settings.secrets.cookie or settings.secrets.default
    return CookieSigner(keys) if keys else None


def session_token(request: web.Request, cookie: CookieConfig, signer: CookieSigner | None) -> str | None:
    """The session token a request carries: `X-Session-Token`, the signed session cookie, or
    `Authorization: Bearer`, in Kratos's order."""
    headers = request.headers
    if x_session_token := headers.get("X-Session-Token"):  # whoami's common case: no cookie parsing
        return x_session_token.strip()
    return pick_token(None, request_cookie(request, cookie.name), headers.get("Authorization"), signer)


def session_token_from_headers(
    headers: Mapping[str, str], cookie: CookieConfig, signer: CookieSigner | None
) -> str | None:
    """The same, from a gateway's copy of a request's headers (Envoy's `ext_authz`: lower-case names)."""
    return pick_token(
        headers.get("x-session-token"),
        cookie_value(headers.get("cookie", ""), cookie.name),
        headers.get("authorization"),
        signer,
    )


def pick_token(
    x_session_token: str | None, cookie_value_: str | None, authorization: str | None, signer: CookieSigner | None
) -> str | None:
    if x_session_token:
        return x_session_token.strip()
    if signer is not None and cookie_value_:
        if token := signer.verify(cookie_value_):
            return token
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def request_cookie(request: web.Request, name: str) -> str | None:
    """A request's cookie of `name`, the first when several are sent, as Go's `Request.Cookie` (Kratos)
    and the Envoy path (`session_token_from_headers`) take it; aiohttp's `request.cookies` keeps
    the last, so a gateway and Warden could each act on another cookie of one request."""
    header = request.headers.get("Cookie")
    return cookie_value(header, name) if header else None


def cookie_value(header: str, name: str) -> str | None:
    """One cookie's value from a `Cookie` header (RFC 6265: `a=1; b=2`; the first of a name wins)."""
    for pair in header.split(";"):
        key, sep, value = pair.strip().partition("=")
        if sep and key == name:
            return value.strip().strip('"')
    return None


def session_cookie(request: web.Request, cookie: CookieConfig, signer: CookieSigner | None) -> SignedCookie | None:
    """The request's session cookie, opened, when it is ours."""
    value = request_cookie(request, cookie.name)
    return signer.open(value) if value and signer is not None else None


def set_session_cookie(
    response: web.StreamResponse, token: str, expires_at: float, cookie: CookieConfig, signer: CookieSigner
) -> None:
    """Until the session's `expires_at` (Unix seconds), or the browser's session for a cookie that
    `session.cookie.persistent: false` keeps out of the browser's storage. `Expires` beside
    `Max-Age`, as Kratos's cookie library sends them: clients that read only `Expires` (older HTTP
    libraries, some embedded web views) would otherwise keep the cookie for their session alone."""
    response.set_cookie(
        cookie.name,
        signer.sign(token, int(expires_at)),
        max_age=max(0, int(expires_at - time.time())) if cookie.persistent else None,
        expires=formatdate(int(expires_at), usegmt=True) if cookie.persistent else None,
        path=cookie.path,
        domain=cookie.domain,
        secure=cookie.secure,
        httponly=True,
        samesite=cookie.same_site,
    )


def clear_session_cookie(response: web.StreamResponse, cookie: CookieConfig) -> None:
    """With the cookie's own attributes: a browser ignores a deletion of a `SameSite=None` cookie that
    a cross-site response sends without them, and of a `__Secure-` or `__Host-` one sent without Secure."""
    response.del_cookie(
        cookie.name,
        path=cookie.path,
        domain=cookie.domain,
        secure=cookie.secure,
        httponly=True,
        samesite=cookie.same_site,
    )
