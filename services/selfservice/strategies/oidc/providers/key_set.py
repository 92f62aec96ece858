"""An OpenID provider's signing keys (its JWKS), as the ID token check needs them (oidc.py).

Fetched on first use and again after an hour. A token the keys do not verify (a `kid` they lack, a
signature that fails) may mean the provider rotated its keys, so they are fetched again, but at most
once per provider per `REFETCH_INTERVAL`: anyone can submit an `id_token` without signing in, and
refused tokens must not become requests to the provider. Misses at the same moment wait for the same
fetch. A token that cannot name a key at all (not a compact JWS, a header that is not a JSON object,
an algorithm Warden does not accept) is refused before any fetch (`check_header`)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from services.selfservice.strategies.oidc.errors import ProviderFailed, TokenInvalid

MAX_AGE = 3600.0  # seconds a fetched key set is used before it is fetched again
REFETCH_INTERVAL = 10.0  # seconds: at most one fetch for tokens that did not verify, however many


class ProviderKeys:
    def __init__(self, fetch: Callable[[], Awaitable[Any]]) -> None:
        self._fetch = fetch  # the JWKS document, from the provider
        self._keys: KeySet | None = None
        self._fetched_at = 0.0  # when the last fetch began, successful or not
        self._tried = False  # whether any fetch has begun (monotonic time may start near 0)
        self._lock = asyncio.Lock()

    async def current(self) -> KeySet:
        async with self._lock:
            if self._keys is None:
                # None yet, the last fetch having failed: not again before `REFETCH_INTERVAL`, or
                # every submitted token would be a request to a provider that is failing.
                if self._tried and time.monotonic() - self._fetched_at < REFETCH_INTERVAL:
                    raise ProviderFailed("the provider's JWKS could not be fetched a moment ago")
                return await self._refresh()
            if time.monotonic() - self._fetched_at > MAX_AGE:
                return await self._refresh()
            return self._keys

    async def after_miss(self, tried: KeySet) -> KeySet | None:
        """Keys fresher than `tried`, which a token did not verify with; None when none may be
        fetched yet (the last fetch is under `REFETCH_INTERVAL` old)."""
        async with self._lock:
            if self._keys is not None and self._keys is not tried:
                return self._keys  # another miss fetched them while this one waited
            if time.monotonic() - self._fetched_at < REFETCH_INTERVAL:
                return None
            return await self._refresh()

    async def _refresh(self) -> KeySet:
        self._fetched_at, self._tried = time.monotonic(), True
        document = await self._fetch()
        try:
            self._keys = KeySet.import_key_set(document)
        except (JoseError, ValueError, TypeError, KeyError):
            raise ProviderFailed("the provider's JWKS could not be read") from None
        return self._keys


def check_header(token: str, algorithms: Collection[str]) -> None:
    """Refuses a token whose header cannot name a key to check it with."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenInvalid("the ID token is not a signed JWT")
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (ValueError, binascii.Error):
        raise TokenInvalid("the ID token's header is not JSON") from None
    if not isinstance(header, dict) or header.get("alg") not in algorithms:
        raise TokenInvalid("the ID token's header names no algorithm Warden accepts")
    if not isinstance(header.get("kid", ""), str):
        raise TokenInvalid("the ID token's header has a kid that is not a string")
