"""Session tokens: 32 random bytes, URL-safe, with Kratos's `ory_st_` prefix. Only a token's SHA-256
is stored or used as a cache key. (The cookie that carries a token is `shared.cookies`.)"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "ory_st_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
