"""whoami's cache: the ready-to-send JSON of each active session, keyed by its token's hash.

An entry is one value: a short header line (the session's AAL, the identity's highest available
AAL, the expiry as a Unix time, the identity id, the cache generation it was written under) and then
the response body, so a hit is one GET and no parsing of JSON. The cache is never the truth: a miss,
an expired entry or an unreachable Redis sends the caller to the database.

Two guards keep a revoked session from coming back (findings 1 and 5 of the security review), both
read with the entry itself, so that they cost a hit nothing:
- Dropping a session (revocation, identity change) replaces its entry with a tombstone, a value
  never written before. A whoami that missed writes what it loaded from the database only if the
  key still holds exactly what it read (`Cache.set_if`, atomic in Redis): a whoami that read the
  session just before a revocation cannot write it back just after.
- The cache holds a generation, which must equal the one in the session database (see
  `cache_generation`); a drop that cannot reach the cache advances the database's, so every
  process clears the cache before trusting it again, even after a restart. Entries are written only
  while the cache's generation is the writer's, and carry it: an entry of an older generation than
  the database's predates a clearing that has not happened yet, and is not trusted.
- A cache found without a generation (new, flushed, or a Redis restarted empty) has lost its
  tombstones too: the process that finds it advances the database's generation before storing it,
  so that a write prepared before the flush fails.
- A Redis restarted from a snapshot (RDB or AOF, on by default in redis.conf) holds the generation
  and the entries of the moment it saved, sessions revoked since included. So the generation is
  stored with the run of the server it was written to (`Cache.instance`): a cache whose run is not
  the stored one is treated as a flushed one. The repair loop checks this every second, and a whoami
  checks it first after any failed cache call (a restart that takes longer than the gap between two
  requests is seen by them): a restored entry can answer for at most that second.
- A cache of the process's own (`cache.url: memory`) is not seen by the other processes on the same
  database (replicas of `warden serve`): its drops are written to the database as well, and each
  such process drops what the others dropped within a second (`cache_drops`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from opentelemetry.instrumentation.utils import suppress_instrumentation

from services.session.cache_drops import CacheDrops
from services.session.cache_generation import CacheGenerations
from services.session.domain import now
from shared.cache.ports import Cache
from shared.errors import CacheUnavailable
from shared.metrics.sessions import CacheMetrics

log = logging.getLogger(__name__)
KEY_PREFIX = "session:"
GENERATION_KEY = "session-generation"
INSTANCE_KEY = "session-generation-instance"  # the run of the cache server the generation was stored in
# What a drop leaves in a session's key, a random id after it: not an entry (no header line), and
# never equal to anything a whoami read before the drop.
TOMBSTONE = b"dropped "
# A tombstone outlives any whoami between its read and its write; a write later than half of it is skipped.
TOMBSTONE_TTL_SECONDS = 120.0
GENERATION_TTL_SECONDS = 10 * 365 * 24 * 3600.0


@dataclass(frozen=True)
class CachedSession:
    aal: str
    available_aal: str
    expires_at: float
    identity_id: str
    body: bytes
    active_at: float | None = None  # the last use recorded (Unix time), with an inactivity timeout only

    def fresh(self) -> bool:
        return time.time() < self.expires_at

    def encode(self, generation: bytes) -> bytes:
        """The cache value: the header line, then the body. The last use is a sixth field, written
        only with an inactivity timeout: without one, entries stay as every version reads them."""
        header = f"{self.aal}\t{self.available_aal}\t{self.expires_at}\t{self.identity_id}\t"
        used = b"" if self.active_at is None else f"\t{self.active_at}".encode()
        return header.encode() + generation + used + b"\n" + self.body


def decode(raw: bytes) -> tuple[CachedSession, bytes] | None:
    """A cache value as an entry and the generation it was written under; None for a tombstone, or
    for anything else Warden did not write (another version's format included)."""
    header, _, body = raw.partition(b"\n")
    try:
        aal, available, expires, identity_id, generation, *used = header.decode().split("\t")
        active_at = float(used[0]) if used else None
        if len(used) > 1:
            return None
        return CachedSession(aal, available, float(expires), identity_id, body, active_at), generation.encode()
    except ValueError:  # UnicodeDecodeError included
        return None


@dataclass(frozen=True)
class Lookup:
    """What a whoami read from the cache: the entry, if any, and what a later write must still find."""

    entry: CachedSession | None
    seen: bytes | None = None  # the session's key as read (None: absent)
    generation: bytes = b""  # this process's generation when it read
    writable: bool = False
    read_at: float = 0.0


MISS = Lookup(None)


# Polls of the drops between two deletions of the drops no one needs any more.
FORGET_DROPS_EVERY = 60


class SessionCache:
    def __init__(
        self,
        cache: Cache,
        ttl_seconds: float,
        generations: CacheGenerations,
        metrics: CacheMetrics,
        drops: CacheDrops | None = None,  # for a cache of this process's own (cache_drops.py)
    ) -> None:
        self._cache = cache
        self._metrics = metrics
        self._ttl = ttl_seconds
        self._generations = generations
        self._drops = drops
        self._recording: set[asyncio.Task[None]] = set()  # drops being written for the other processes
        self._polls = 0
        self._generation = b""  # the database's, as this process last read it
        self._checked = False  # the cache was found whole since the last failed call (`repair`)
        self._repairing = asyncio.Lock()

    async def start(self) -> None:
        with suppress_instrumentation():  # start-up, no one's journey
            self._generation = str(await self._generations.current()).encode()
            if self._drops is not None:
                await self._drops.start()
            await self.repair()  # entries are written only once the cache holds the generation

    async def get(self, digest: str) -> Lookup:
        if not self._checked and not await self.repair():
            self._metrics.error.inc()
            return MISS
        try:
            raw = await self._cache.get(KEY_PREFIX + digest)
        except CacheUnavailable:
            self._checked = False  # it may come back restarted, from a snapshot: check it first
            self._metrics.error.inc()
            return MISS
        decoded = decode(raw) if raw is not None else None
        if decoded is not None and (decoded[1] == self._generation or self._adopt(decoded[1])):
            self._metrics.hit.inc()
            return Lookup(decoded[0], raw, self._generation, True, time.monotonic())
        self._metrics.miss.inc()
        if decoded is not None and not await self.repair():
            # An entry of an older generation: the clearing the database asks for has not happened,
            # and could not happen now.
            return MISS
        return Lookup(None, raw, self._generation, True, time.monotonic())

    async def put(self, digest: str, entry: CachedSession, lookup: Lookup) -> None:
        """Writes what was loaded after `lookup`, unless the session was dropped since, or the cache
        has been cleared for a newer generation (a drop that failed while this whoami loaded)."""
        if not lookup.writable or time.monotonic() - lookup.read_at > TOMBSTONE_TTL_SECONDS / 2:
            return
        ttl = min(self._ttl, entry.expires_at - time.time())
        key = KEY_PREFIX + digest
        expected = {key: lookup.seen, GENERATION_KEY: lookup.generation}
        try:
            await self._cache.set_if(key, entry.encode(lookup.generation), ttl, expected)
        except CacheUnavailable:
            pass  # the next request reads the database again

    async def drop(self, digests: Iterable[str]) -> None:
        digests = list(digests)
        if not digests:
            return
        try:
            await self._tombstone(digests)
        except CacheUnavailable:
            log.warning(
                "could not drop %d cached sessions: the cache is unreachable; all will be cleared when it returns",
                len(digests),
            )
            self._generation = str(await self._generations.advance()).encode()
        if self._drops is not None:
            # In the background: a caller may drop inside its own transaction (before its commit),
            # which on SQLite holds the one writer this write would wait for.
            recording = asyncio.create_task(self._record(digests))
            self._recording.add(recording)
            recording.add_done_callback(self._recording.discard)

    async def _record(self, digests: list[str]) -> None:
        assert self._drops is not None
        try:
            await self._drops.record(digests)
        except Exception:  # the event of the change drops them again, and records them then
            log.warning("could not tell the other processes of %d dropped sessions", len(digests), exc_info=True)

    async def _tombstone(self, digests: Iterable[str]) -> None:
        tombstone = TOMBSTONE + uuid.uuid4().hex.encode()
        await self._cache.set_many({KEY_PREFIX + d: tombstone for d in digests}, TOMBSTONE_TTL_SECONDS)

    async def follow_drops(self) -> None:
        """Drops from this process's cache what the other processes dropped from theirs since the
        last call (its own drops come back too: dropping them again costs a miss at most)."""
        if self._drops is None:
            return
        self._polls += 1
        try:
            found = await self._drops.new()
            if found:
                await self._tombstone(found)
            if self._polls % FORGET_DROPS_EVERY == 0:
                await self._drops.forget(now() - timedelta(seconds=self._ttl + TOMBSTONE_TTL_SECONDS))
        except Exception:  # the database is away: the drops wait for the next round
            log.warning("could not read the sessions other processes dropped", exc_info=True)

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
        """Clears every cached session when the cache's generation is not the database's, or was
        stored in an earlier run of the cache server; True once the cache can be trusted again.
        One repair at a time: whoamis that find one running answer from the database (False)
        rather than each reading the cache's state again and, after a restart, clearing it again."""
        if self._repairing.locked():
            return False
        async with self._repairing:
            return await self._repair()

    async def _repair(self) -> bool:
        try:
            stored = await self._cache.get(GENERATION_KEY)
            run = await self._cache.instance()
            restored = stored is not None and run is not None and await self._cache.get(INSTANCE_KEY) != run.encode()
            if not restored and (stored == self._generation or self._adopt(stored)):
                self._checked = True
                return True
            if (stored is None or restored) and not await self._advance():
                return False
            await self._cache.clear(KEY_PREFIX)
            # The generation first: a crash between the two leaves a run that does not match, and
            # the next repair clears again, rather than a matching run over a restored generation.
            await self._cache.set(GENERATION_KEY, self._generation, GENERATION_TTL_SECONDS)
            if run is not None:
                await self._cache.set(INSTANCE_KEY, run.encode(), GENERATION_TTL_SECONDS)
        except CacheUnavailable:
            return False
        if restored:
            log.warning(
                "session cache cleared: the cache server started again with keys from before (a snapshot), "
                "which may hold sessions revoked since"
            )
        elif stored is not None:  # none at all: a new (or flushed) cache, nothing to tell
            log.info("session cache cleared: its generation was not the database's (a revocation missed it)")
        self._checked = True
        return True

    async def _advance(self) -> bool:
        """A new or flushed cache: the flush took the tombstones with it, so a whoami that read a
        session before its revocation and writes after the flush would find what it expects. A new
        generation makes that write (of the old one) fail. False while the database is away."""
        try:
            self._generation = str(await self._generations.advance()).encode()
        except Exception:
            log.warning("could not advance the session cache generation", exc_info=True)
            return False
        return True

    async def run_repairs(self, every_seconds: float = 1.0) -> None:
        """Background loop: learns the database's generation (another process may have advanced it)
        and repairs the cache as soon as it can, even if this process serves no whoami itself."""
        with suppress_instrumentation():  # a poll is no one's journey: no trace for each round
            while True:
                await asyncio.sleep(every_seconds)
                try:
                    self._generation = str(await self._generations.current()).encode()
                except Exception:  # the database is away: keep the last known generation
                    log.warning("could not read the session cache generation", exc_info=True)
                    continue
                await self.repair()
                await self.follow_drops()
