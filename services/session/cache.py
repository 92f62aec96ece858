"""whoami's cache: the ready-to-send JSON of each active session, keyed by its token's hash.

An entry is one value: a short header line (the session's AAL, the identity's highest available
AAL, the expiry as a Unix time, the identity id) and then the response body, so a hit is one GET and
no parsing of JSON. The cache is never the truth: a miss, an expired entry or an unreachable Redis
sends the caller to the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from shared.cache.ports import Cache
from shared.errors import CacheUnavailable

log = logging.getLogger(__name__)
KEY_PREFIX = "session:"


@dataclass(frozen=True)
class CachedSession:
    aal: str
    available_aal: str
    expires_at: float
    identity_id: str
    body: bytes

    def fresh(self) -> bool:
        return time.time() < self.expires_at


class SessionCache:
    """A revocation that cannot reach the cache must not be undone when the cache returns: a failed
    drop marks every cached session suspect, and they are all cleared (by the next read, or by the
    repair loop) before the cache answers again."""

    def __init__(self, cache: Cache, ttl_seconds: float) -> None:
        self._cache = cache
        self._ttl = ttl_seconds
        self._suspect = False

    async def get(self, digest: str) -> CachedSession | None:
        if self._suspect and not await self.repair():
            return None
        try:
            raw = await self._cache.get(KEY_PREFIX + digest)
        except CacheUnavailable:
            return None
        if raw is None:
            return None
        header, _, body = raw.partition(b"\n")
        try:
            aal, available, expires, identity_id = header.decode().split("\t")
            return CachedSession(aal, available, float(expires), identity_id, body)
        except ValueError:
            return None  # written by another version: treat as a miss

    async def put(self, digest: str, entry: CachedSession) -> None:
        if self._suspect:
            return
        ttl = min(self._ttl, entry.expires_at - time.time())
        header = f"{entry.aal}\t{entry.available_aal}\t{entry.expires_at}\t{entry.identity_id}\n".encode()
        try:
            await self._cache.set(KEY_PREFIX + digest, header + entry.body, ttl)
        except CacheUnavailable:
            pass  # the next request reads the database again

    async def drop(self, digests: Iterable[str]) -> None:
        keys = [KEY_PREFIX + d for d in digests]
        if not keys:
            return
        try:
            await self._cache.delete_many(keys)
        except CacheUnavailable:
            log.warning(
                "could not drop %d cached sessions: the cache is unreachable; all will be cleared when it returns",
                len(keys),
            )
            self._suspect = True

    async def repair(self) -> bool:
        """Clears every cached session after a failed drop; True once the cache can be trusted again."""
        if not self._suspect:
            return True
        try:
            await self._cache.clear(KEY_PREFIX)
        except CacheUnavailable:
            return False
        self._suspect = False
        log.info("the cache is reachable again: cached sessions cleared after a failed revocation")
        return True

    async def run_repairs(self, every_seconds: float = 1.0) -> None:
        """Background loop: a process that revoked during an outage repairs the cache as soon as it
        returns, even if it serves no whoami itself."""
        while True:
            await asyncio.sleep(every_seconds)
            await self.repair()
