"""The browser a paused settings change belongs to (Kratos's continuity container, whose cookie is
`ory_kratos_continuity`).

A change that needs a fresh sign-in is kept with the flow and applied when the re-authenticated
browser returns. The session alone cannot say which browser that is: a copied session cookie is the
same session in two browsers, and whoever holds the copy could pause a change and lead the owner to
the re-authentication link, whose sign-in would then apply it. So the browser that paused the change
gets a random token in a cookie; the flow keeps only its hash, and resuming needs the cookie.

The change itself (a new password, say) is kept sealed under a key only that token gives: whoever
reads the database, or a backup of it, while a change waits finds neither the token nor what was
typed (Kratos keeps its continuity container in the clear)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from aiohttp import web
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.cookies import CookieConfig, request_cookie

COOKIE = "ory_kratos_continuity"
# What the sealing key is derived for: never the stored digest (a plain SHA-256 of the token).
_KEY_PURPOSE = b"warden: a paused settings change"


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


def seal(token: str, change: bytes) -> str:
    """`change` sealed under a key only `token` gives (AES-256-GCM, a random nonce)."""
    nonce = os.urandom(12)
    return base64.urlsafe_b64encode(nonce + AESGCM(_key(token)).encrypt(nonce, change, None)).decode()


def unseal(request: web.Request, sealed: str) -> bytes | None:
    """The change this browser's cookie opens; None if it opens nothing."""
    token = request_cookie(request, COOKIE)
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(sealed.encode())
        return AESGCM(_key(token)).decrypt(raw[:12], raw[12:], None)
    except (ValueError, InvalidTag):
        return None


def _key(token: str) -> bytes:
    return hmac.new(token.encode(), _KEY_PURPOSE, hashlib.sha256).digest()
