"""Session tokens and the signed session cookie.

A token is 32 random bytes, URL-safe, with Kratos's `ory_st_` prefix; only its SHA-256 is stored or
used as a cache key. The browser cookie carries the token signed with HMAC-SHA256 under the first
of `secrets.cookie`; any secret in the list verifies, so secrets rotate without logging anyone out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

TOKEN_PREFIX = "ory_st_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class CookieSigner:
    def __init__(self, secrets_: Sequence[str]) -> None:
        if not secrets_:
            raise ValueError("secrets.cookie (or secrets.default) must hold at least one secret to sign session cookies")
        self._keys = [s.encode() for s in secrets_]

    def sign(self, token: str) -> str:
        return f"{token}.{self._mac(self._keys[0], token)}"

    def verify(self, value: str) -> str | None:
        token, _, mac = value.rpartition(".")
        if not token or not mac:
            return None
        matches = [hmac.compare_digest(mac, self._mac(key, token)) for key in self._keys]  # every key: even timing
        return token if any(matches) else None

    @staticmethod
    def _mac(key: bytes, token: str) -> str:
        digest = hmac.new(key, token.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
