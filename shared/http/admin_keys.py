"""Keys for the admin API: Warden's `serve.admin.api_keys` (security checklist AD-2, ASVS 8.4.2).

Kratos's admin API trusts whoever reaches its port, and so does Warden unless keys are configured:
Kratos's SDKs, CLIs and back offices keep working unchanged. With keys, every call on the admin port
but the health checks, the version and the metrics (which probes and scrapers ask for, and which
carry no identity's data) presents one as `Authorization: Bearer <key>`, or as `Authorization:
<key>`: Ory's generated SDKs send the `oryAccessToken` scheme of Kratos's API spec in that header,
with the prefix they are given or none. The 307s the admin port answers for public paths need a key
too. `/internal/` keeps its own token (`middleware.internal_guard`).

A `read` key may only read (GET, HEAD), and not the tokens an identity's `oidc` or `saml` credential
holds (`include_credential`): those would let a reporting tool act as the user at the provider. Nor
does it read what the courier's messages say (`reads_only`: their subject and body are masked), since
they carry live recovery, verification and sign-in codes and links: with one, a key that may only
read would sign in as anyone it starts a recovery for. A `write` key may do everything. A missing or
unknown key is a 401, a refused one a 403, both in Kratos's error shape; the key's name (never the
key) goes into the access log line, so every admin action says whose it was.

A key is kept as its SHA-256 only, and the config may hold that digest (`key_sha256`) instead of the
key, so the key itself need not sit in a file. Keys are meant to be random (32 characters at least,
without spaces, is all that is checked), and against a random key a fast hash loses nothing: there
is no guessable secret for a slow one to protect. The presented key's digest is compared with every
configured one in constant time, so the answer time tells neither which keys exist nor how close a
guess came."""

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
# Credentials whose admin view holds the provider's tokens, decrypted: a write key's to read.
_HOLDING_TOKENS = frozenset({"oidc", "saml"})
# Where the request keeps the name of the key that opened it, for the access log line.
KEY_NAME = web.RequestKey("admin_api_key_name", str)
KEY_SCOPE = web.RequestKey("admin_api_key_scope", str)


class ApiKeyRequired(errors.Unauthorized):
    challenge = 'Bearer realm="admin"'


@dataclass(frozen=True)
class ApiKey:
    name: str
    digest: bytes
    scope: str  # READ or WRITE

    def allows(self, request: web.Request) -> bool:
        if self.scope == WRITE:
            return True
        included = request.query.getall("include_credential", [])
        return request.method in _READ_METHODS and not _HOLDING_TOKENS.intersection(included)


class AdminKeys:
    """The configured keys, and which one (if any) a request's `Authorization` header presents."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self._keys = keys

    @classmethod
    def from_settings(cls, settings: Any) -> AdminKeys | None:
        """None when `serve.admin.api_keys` is unset or empty: the admin API is open, as Kratos's."""
        entries = settings.get("serve.admin.api_keys") or []
        keys = [_key_from(entry) for entry in entries]
        for kind, values in (("name", [k.name for k in keys]), ("key", [k.digest for k in keys])):
            if len(set(values)) != len(values):
                raise ConfigError(f"config: serve.admin.api_keys: two keys have the same {kind}")
        return cls(keys) if keys else None

    def holder(self, authorization: str) -> ApiKey | None:
        """The key `Authorization: Bearer <key>` or `Authorization: <key>` presents, if configured."""
        scheme, _, rest = authorization.strip().partition(" ")
        presented = rest.strip() if scheme.lower() == "bearer" else authorization.strip()
        if not presented or " " in presented:
            return None
        # aiohttp gives bytes that are not UTF-8 as surrogates: they hash (and match nothing) all the same.
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        found = None
        for key in self._keys:  # every key is compared, whichever matches
            if hmac.compare_digest(digest, key.digest):
                found = key
        return found


def _key_from(entry: dict[str, Any]) -> ApiKey:
    """The schema has checked the shapes: one of `key` (32 characters or more) and `key_sha256`
    (64 lowercase hex digits)."""
    key = entry.get("key")
    digest = hashlib.sha256(key.encode()).digest() if key is not None else bytes.fromhex(entry["key_sha256"])
    return ApiKey(name=entry["name"], digest=digest, scope=entry["scope"])


def reads_only(request: web.Request) -> bool:
    """Whether the request came with a `read` key (with no keys configured, the admin API is open)."""
    return request.get(KEY_SCOPE) == READ


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
        request[KEY_SCOPE] = key.scope
        if not key.allows(request):
            raise errors.Forbidden(
                f"The API key {key.name!r} may only read, and not the tokens of social sign-in credentials."
            )
        return await handler(request)

    return middleware
