"""Keys for the admin API: Warden's `serve.admin.api_keys` (security checklist AD-2, ASVS 8.4.2).

Kratos's admin API trusts whoever reaches its port, and so does Warden unless keys are configured:
Kratos's SDKs, CLIs and back offices keep working unchanged. With keys, every call on the admin port
but the health checks, the version and the metrics (which probes and scrapers ask for, and which
carry no identity's data) presents one as `Authorization: Bearer <key>`, the header Ory's SDKs send
for the `oryAccessToken` scheme of Kratos's API spec once given an access token; `/internal/` keeps
its own token (`middleware.internal_guard`). A `read` key may only read (GET, HEAD); a `write` key may
do everything. A missing or unknown key is a 401, a read key's write a 403, both in Kratos's error
shape; the key's name (never the key) goes into the access log line, so every admin action says
whose it was.

A key is kept as its SHA-256 only, and the config may hold that digest (`key_sha256`) instead of the
key, so the key itself need not sit in a file. A key is random and long (32 characters at least),
so a fast hash is enough: there is nothing to guess that a slow one would protect. The presented
key's digest is compared with every configured one in constant time, so the answer time tells
neither which keys exist nor how close a guess came."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from shared import errors
from shared.errors import ConfigError
from shared.http.middleware import Handler

READ = "read"
WRITE = "write"
# Asked by probes and scrapers, which carry no key; none of them reads or changes an identity.
OPEN_PATHS = frozenset({"/health/alive", "/health/ready", "/version", "/metrics", "/metrics/prometheus"})
_READ_METHODS = frozenset({"GET", "HEAD"})
# Where the request keeps the name of the key that opened it, for the access log line.
KEY_NAME = web.RequestKey("admin_api_key_name", str)


class ApiKeyRequired(errors.Unauthorized):
    challenge = 'Bearer realm="admin"'


@dataclass(frozen=True)
class ApiKey:
    name: str
    digest: bytes
    scope: str  # READ or WRITE

    def allows(self, method: str) -> bool:
        return self.scope == WRITE or method in _READ_METHODS


class AdminKeys:
    """The configured keys, and which one (if any) a request's `Authorization` header presents."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self._keys = keys

    @classmethod
    def from_settings(cls, settings: Any) -> AdminKeys | None:
        """None when `serve.admin.api_keys` is unset or empty: the admin API is open, as Kratos's."""
        entries = settings.get("serve.admin.api_keys") or []
        keys = [_key_from(i, entry) for i, entry in enumerate(entries)]
        for kind, values in (("name", [k.name for k in keys]), ("key", [k.digest for k in keys])):
            if len(set(values)) != len(values):
                raise ConfigError(f"config: serve.admin.api_keys: two keys have the same {kind}")
        return cls(keys) if keys else None

    def holder(self, authorization: str) -> ApiKey | None:
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return None
        digest = hashlib.sha256(presented.strip().encode()).digest()
        found = None
        for key in self._keys:  # every key is compared, whichever matches
            if hmac.compare_digest(digest, key.digest):
                found = key
        return found


def _key_from(index: int, entry: dict[str, Any]) -> ApiKey:
    """The schema has checked the shapes: one of `key` (32 characters or more) and `key_sha256`."""
    if "key" in entry:
        digest = hashlib.sha256(entry["key"].encode()).digest()
    else:
        try:
            digest = bytes.fromhex(entry["key_sha256"])
        except ValueError:
            raise ConfigError(f"config: serve.admin.api_keys[{index}].key_sha256: not hexadecimal") from None
    return ApiKey(name=entry["name"], digest=digest, scope=entry["scope"])


def admin_key_guard(keys: AdminKeys) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path in OPEN_PATHS or path.startswith("/internal/"):
            return await handler(request)
        key = keys.holder(request.headers.get("Authorization", ""))
        if key is None:
            raise ApiKeyRequired("The admin API needs an API key: Authorization: Bearer <key>.")
        request[KEY_NAME] = key.name
        if not key.allows(request.method):
            raise errors.Forbidden(f"The API key {key.name!r} may only read.")
        return await handler(request)

    return middleware
