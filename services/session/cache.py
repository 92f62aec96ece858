"""whoami's cache: the ready-to-send JSON of each active session, keyed by its token's hash.

An entry is one value: a short header line (the session's AAL, the identity's highest available
AAL, the expiry as a Unix time, the identity id) and then the response body, so a hit is one round
trip and no parsing of JSON. The cache is never the truth: a miss, an expired entry or an
unreachable Redis sends the caller to the database.

Two guards keep a revoked session from coming back (findings 1 and 5 of the security review):
- Each session has a stamp, replaced whenever its entry is dropped (revocation, identity change).
  A whoami reads the stamp with the entry, and writes what it loaded from the database only if the
  stamp is still the one it read (`Cache.set_if`, atomic in Redis): a whoami that read the session
  just before a revocation cannot write it back just after.
- The cache holds a generation, which must equal the one in the session database (see
  `cache_generation`); a drop that cannot reach the cache advances the database's, so every
  process clears the cache before trusting it again, even after a restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from services.session.cache_generation import CacheGenerations
from shared.cache.ports import Cache
from shared.errors import CacheUnavailable
from shared.metrics.sessions import CacheMetrics

log = logging.getLogger(__name__)
KEY_PREFIX = "session:"
STAMP_PREFIX = "session-stamp:"
GENERATION_KEY = "session-generation"
# A stamp outlives any whoami between its read and its write; a write later than half of it is skipped.
STAMP_TTL_SECONDS = 120.0
GENERATION_TTL_SECONDS = 10 * 365 * 24 * 3600.0


@dataclass(frozen=True)
class CachedSession:
    aal: str
    available_aal: str
    expires_at: float
    identity_id: str
    body: bytes

    def fresh(self) -> bool:
        return time.time() < self.expires_at


@dataclass(frozen=True)
class Lookup:
    """What a whoami read from the cache: the entry, if any, and what a later write must still find."""

    entry: CachedSession | None
    stamp: bytes | None = None
    writable: bool = False
    read_at: float = 0.0


MISS = Lookup(None)


class SessionCache:
    def __init__(self, cache: Cache, ttl_seconds: float, generations: CacheGenerations, metrics: CacheMetrics) -> None:
        self._cache = cache
        self._metrics = metrics
        self._ttl = ttl_seconds
        self._generations = generations
        self._generation = b""  # the database's, as this process last read it

    async def start(self) -> None:
        self._generation = str(await self._generations.current()).encode()

    async def get(self, digest: str) -> Lookup:
        try:
            raw, stamp, generation = await self._cache.get_many(
                [KEY_PREFIX + digest, STAMP_PREFIX + digest, GENERATION_KEY]
            )
        except CacheUnavailable:
            self._metrics.error.inc()
            return MISS
        lookup = Lookup(None, stamp, writable=True, read_at=time.monotonic())
        if generation != self._generation and not self._adopt(generation):
            # What was read predates the clearing; the stamp still holds (repairs do not touch stamps).
            self._metrics.miss.inc()
            return lookup if await self.repair() else MISS
        if raw is None:
            self._metrics.miss.inc()
            return lookup
        header, _, body = raw.partition(b"\n")
        try:
            aal, available, expires, identity_id = header.decode().split("\t")
            entry = CachedSession(aal, available, float(expires), identity_id, body)
        except ValueError:  # UnicodeDecodeError included
            self._metrics.miss.inc()
            return lookup  # written by another version: treat as a miss
        self._metrics.hit.inc()
        return Lookup(entry, stamp, True, lookup.read_at)

    async def put(self, digest: str, entry: CachedSession, lookup: Lookup) -> None:
        """Writes what was loaded after `lookup`, unless the session was dropped since."""
        if not lookup.writable or time.monotonic() - lookup.read_at > STAMP_TTL_SECONDS / 2:
            return
        ttl = min(self._ttl, entry.expires_at - time.time())
        header = f"{entry.aal}\t{entry.available_aal}\t{entry.expires_at}\t{entry.identity_id}\n".encode()
        expected = {STAMP_PREFIX + digest: lookup.stamp, GENERATION_KEY: self._generation}
        try:
            await self._cache.set_if(KEY_PREFIX + digest, header + entry.body, ttl, expected)
        except CacheUnavailable:
            pass  # the next request reads the database again

    async def drop(self, digests: Iterable[str]) -> None:
        digests = list(digests)
        if not digests:
            return
        stamp = uuid.uuid4().hex.encode()
        try:
            # The stamps first: a write that read the old stamp fails from now on; the delete then
            # removes any write that landed before.
            await self._cache.set_many({STAMP_PREFIX + d: stamp for d in digests}, STAMP_TTL_SECONDS)
            await self._cache.delete_many([KEY_PREFIX + d for d in digests])
        except CacheUnavailable:
            log.warning(
                "could not drop %d cached sessions: the cache is unreachable; all will be cleared when it returns",
                len(digests),
            )
            self._generation = str(await self._generations.advance()).encode()

    def _adopt(self, generation: bytes | None) -> bool:
        """A newer generation in the cache was stored by a process that read it from the database
        and cleared the cache first: this process's copy is merely older."""
        try:
            newer = generation is not None and int(generation) > int(self._generation)
        except ValueError:
            return False
        if newer:
            self._generation = generation  # type: ignore[assignment]
        return newer

    async def repair(self) -> bool:
        """Clears every cached session when the cache's generation is not the database's; True once
        the cache can be trusted again."""
        try:
            stored = await self._cache.get(GENERATION_KEY)
            if stored == self._generation or self._adopt(stored):
                return True
            await self._cache.clear(KEY_PREFIX)
            await self._cache.set(GENERATION_KEY, self._generation, GENERATION_TTL_SECONDS)
        except CacheUnavailable:
            return False
        log.info("session cache cleared: its generation was not the database's (a revocation missed it)")
        return True

    async def run_repairs(self, every_seconds: float = 1.0) -> None:
        """Background loop: learns the database's generation (another process may have advanced it)
        and repairs the cache as soon as it can, even if this process serves no whoami itself."""
        while True:
            await asyncio.sleep(every_seconds)
            try:
                self._generation = str(await self._generations.current()).encode()
            except Exception:  # the database is away: keep the last known generation
                log.warning("could not read the session cache generation", exc_info=True)
                continue
            await self.repair()
