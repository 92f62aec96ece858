"""The session cache's one key per session, on both cache adapters (the in-process one and Redis)
with the cache generation in a real session database: a drop leaves a tombstone that no earlier
reader can write over, and an entry is trusted only under the generation the database holds.
Two `SessionCache`s on one cache and one database are two session processes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import MetaData

from services.session.cache import KEY_PREFIX, TOMBSTONE, CachedSession, SessionCache, decode
from services.session.cache_generation import CacheGenerations
from services.session.tables import session_tables
from shared.adapters.memory.cache import InMemoryCache
from shared.adapters.redis.cache import RedisCache
from shared.bus.outbox import Outbox
from shared.cache.ports import Cache
from shared.metrics.sessions import CacheMetrics
from shared.storage import migrations
from shared.storage.database import Database
from shared.storage.tables import outbox_table
from shared.storage.uow import UnitOfWorkFactory
from warden.services import SERVICES

DIGEST = "d" * 64


def entry(body: bytes = b'{"id":"s"}') -> CachedSession:
    return CachedSession("aal1", "aal1", time.time() + 3600, "identity-1", body)


@dataclass
class Processes:
    cache: Cache
    generations: CacheGenerations

    async def start(self) -> SessionCache:
        process = SessionCache(self.cache, 300.0, self.generations, CacheMetrics(CollectorRegistry()))
        await process.start()
        return process


@pytest.fixture(params=["memory", "redis"])
async def processes(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Processes]:
    database = Database.from_dsn(f"sqlite://{tmp_path}/sessions.sqlite")
    await migrations.upgrade(database, next(s.migrations for s in SERVICES if s.name == "session"))
    metadata = MetaData()
    uow = UnitOfWorkFactory(database, Outbox(outbox_table(metadata, "session")), "session")
    generations = CacheGenerations(uow, session_tables(metadata).cache_generation)
    if request.param == "memory":
        cache: Cache = InMemoryCache()
    else:
        cache = RedisCache(request.getfixturevalue("redis_url"), prefix=request.getfixturevalue("redis_prefix"))
    yield Processes(cache, generations)
    await cache.close()
    await database.dispose()


async def test_a_hit_is_what_was_written(processes: Processes) -> None:
    process = await processes.start()
    written = entry()
    await process.put(DIGEST, written, await process.get(DIGEST))
    assert (await process.get(DIGEST)).entry == written


async def test_a_drop_leaves_a_tombstone_that_a_whoami_which_read_before_it_cannot_overwrite(
    processes: Processes,
) -> None:
    reader, revoker = await processes.start(), await processes.start()
    await reader.put(DIGEST, entry(), await reader.get(DIGEST))
    before_drop = await reader.get(DIGEST)  # a hit, then (say) the session expired: the reader reloads
    missed_before_drop = await reader.get("e" * 64)

    await revoker.drop([DIGEST, "e" * 64])
    await reader.put(DIGEST, entry(b'{"stale":1}'), before_drop)
    await reader.put("e" * 64, entry(b'{"stale":2}'), missed_before_drop)

    for digest in (DIGEST, "e" * 64):
        assert (await reader.get(digest)).entry is None, "refused right after the drop"
        raw = await processes.cache.get(KEY_PREFIX + digest)
        assert raw is not None and raw.startswith(TOMBSTONE) and decode(raw) is None


async def test_a_whoami_after_the_drop_caches_the_session_again(processes: Processes) -> None:
    process = await processes.start()
    await process.put(DIGEST, entry(), await process.get(DIGEST))
    await process.drop([DIGEST])
    after = await process.get(DIGEST)
    assert after.entry is None
    await process.put(DIGEST, entry(b'{"changed":true}'), after)
    cached = (await process.get(DIGEST)).entry
    assert cached is not None and cached.body == b'{"changed":true}'


async def test_two_drops_in_a_row_leave_different_tombstones(processes: Processes) -> None:
    process = await processes.start()
    await process.drop([DIGEST])
    first = await processes.cache.get(KEY_PREFIX + DIGEST)
    read_between = await process.get(DIGEST)
    await process.drop([DIGEST])
    await process.put(DIGEST, entry(b'{"stale":true}'), read_between)
    second = await processes.cache.get(KEY_PREFIX + DIGEST)
    assert first != second and second is not None and second.startswith(TOMBSTONE)


async def test_an_entry_of_a_generation_older_than_the_databases_is_not_trusted(processes: Processes) -> None:
    old = await processes.start()
    await old.put(DIGEST, entry(), await old.get(DIGEST))
    await processes.generations.advance()  # what a drop that could not reach the cache does
    restarted = await processes.start()  # clears the cache: its generation is not the database's
    assert (await restarted.get(DIGEST)).entry is None
    assert (await old.get(DIGEST)).entry is None  # nothing is left to serve, even to a process behind
    # An entry of the old generation written after the clearing (a write racing it) is not trusted.
    await processes.cache.set(KEY_PREFIX + DIGEST, entry().encode(b"0"), 60)
    assert (await restarted.get(DIGEST)).entry is None


async def test_a_whoami_that_loaded_before_a_failed_drop_cannot_write_after_the_clearing(
    processes: Processes,
) -> None:
    """The drop could not reach the cache, so there is no tombstone: the generation is the guard."""
    reader, other = await processes.start(), await processes.start()
    missed = await reader.get(DIGEST)
    await processes.generations.advance()
    await other.start()  # another process learns the new generation and clears the cache
    await reader.start()  # and the reader learns it too (its background loop), before its write
    await reader.put(DIGEST, entry(b'{"revoked":true}'), missed)
    assert await processes.cache.get(KEY_PREFIX + DIGEST) is None


async def test_a_process_behind_adopts_a_newer_generation_from_an_entry(processes: Processes) -> None:
    behind = await processes.start()
    await processes.generations.advance()
    ahead = await processes.start()
    await ahead.put(DIGEST, entry(), await ahead.get(DIGEST))
    hit = await behind.get(DIGEST)
    assert hit.entry is not None and hit.generation == str(await processes.generations.current()).encode()


async def test_a_whoami_that_read_before_a_drop_cannot_write_after_the_cache_was_flushed(
    processes: Processes,
) -> None:
    """A flush (or a Redis restarted empty) takes the tombstone and the generation with it: the
    write the slow whoami prepared before the revocation must still fail."""
    reader, revoker = await processes.start(), await processes.start()
    before_drop = await reader.get(DIGEST)  # a miss: the reader loads the session from the database
    await revoker.drop([DIGEST])  # the session is revoked
    await processes.cache.clear("")  # every key gone: the tombstone and the generation too
    assert await revoker.repair()  # a process notices (its poll runs every second)
    await reader.put(DIGEST, entry(b'{"stale":1}'), before_drop)
    assert (await reader.get(DIGEST)).entry is None
    assert await processes.cache.get(KEY_PREFIX + DIGEST) is None
