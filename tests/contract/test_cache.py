"""One contract for every cache adapter: the in-process one and Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from shared.adapters.memory.cache import InMemoryCache
from shared.adapters.redis.cache import RedisCache
from shared.cache.ports import Cache
from shared.errors import CacheUnavailable
from tests.conftest import free_port
from tests.tcp_proxy import TcpProxy


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    if request.param == "memory":
        adapter: Cache = InMemoryCache()
    else:
        adapter = RedisCache(request.getfixturevalue("redis_url"), prefix=request.getfixturevalue("redis_prefix"))
    yield adapter
    await adapter.close()


async def test_set_then_get_returns_the_same_bytes(cache: Cache) -> None:
    await cache.set("session:abc", b'{"id":"abc"}', ttl_seconds=30)
    assert await cache.get("session:abc") == b'{"id":"abc"}'


async def test_missing_key_is_none(cache: Cache) -> None:
    assert await cache.get("nothing-here") is None


async def test_entry_expires_after_its_ttl(cache: Cache) -> None:
    await cache.set("short", b"x", ttl_seconds=0.1)
    await asyncio.sleep(0.25)
    assert await cache.get("short") is None


async def test_zero_ttl_stores_nothing(cache: Cache) -> None:
    await cache.set("k", b"old", ttl_seconds=30)
    await cache.set("k", b"new", ttl_seconds=0)
    assert await cache.get("k") is None


async def test_overwrite_replaces_value(cache: Cache) -> None:
    await cache.set("k", b"one", ttl_seconds=30)
    await cache.set("k", b"two", ttl_seconds=30)
    assert await cache.get("k") == b"two"


async def test_delete_and_delete_many(cache: Cache) -> None:
    for key in ("a", "b", "c"):
        await cache.set(key, key.encode(), ttl_seconds=30)
    await cache.delete("a")
    await cache.delete_many(["b", "missing"])
    await cache.delete_many([])
    assert [await cache.get(k) for k in ("a", "b", "c")] == [None, None, b"c"]


async def test_set_many(cache: Cache) -> None:
    await cache.set_many({"a": b"1", "b": b"2"}, ttl_seconds=30)
    assert [await cache.get(k) for k in ("a", "missing", "b")] == [b"1", None, b"2"]
    await cache.set_many({}, ttl_seconds=30)


async def test_set_if_writes_only_while_the_watched_keys_hold_what_was_read(cache: Cache) -> None:
    assert await cache.set_if("entry", b"v1", 30, {"stamp": None, "generation": None})
    assert await cache.get("entry") == b"v1"
    await cache.set_many({"stamp": b"s1"}, ttl_seconds=30)
    assert not await cache.set_if("entry", b"stale", 30, {"stamp": None}), "the stamp changed since the read"
    assert not await cache.set_if("entry", b"stale", 30, {"stamp": b"other"})
    assert await cache.get("entry") == b"v1"
    assert await cache.set_if("entry", b"v2", 30, {"stamp": b"s1"})
    assert await cache.get("entry") == b"v2"


async def test_set_if_can_watch_the_key_it_writes(cache: Cache) -> None:
    """A compare-and-set: what the session cache does with a session's one key."""
    assert await cache.set_if("entry", b"v1", 30, {"entry": None})
    assert not await cache.set_if("entry", b"stale", 30, {"entry": None}), "written since the read"
    await cache.set("entry", b"dropped 1", ttl_seconds=30)
    assert not await cache.set_if("entry", b"stale", 30, {"entry": b"v1"}), "dropped since the read"
    assert await cache.set_if("entry", b"v2", 30, {"entry": b"dropped 1", "generation": None})
    assert await cache.get("entry") == b"v2"


async def test_instance_names_the_servers_run_and_stays_while_it_runs(cache: Cache) -> None:
    first = await cache.instance()
    assert first, "both adapters can say which run of the server answers"
    await cache.set("k", b"v", 60)
    assert await cache.instance() == first


async def test_healthy(cache: Cache) -> None:
    assert await cache.healthy()
    await cache.ping()


async def test_redis_prefixes_keep_installations_apart(redis_url: str, redis_prefix: str) -> None:
    ours, theirs = RedisCache(redis_url, prefix=redis_prefix + "a:"), RedisCache(redis_url, prefix=redis_prefix + "b:")
    try:
        await ours.set("k", b"ours", ttl_seconds=30)
        assert await theirs.get("k") is None
    finally:
        await ours.close()
        await theirs.close()


async def test_unreachable_redis_raises_cache_unavailable_quickly() -> None:
    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0", timeout_seconds=0.2)
    try:
        with pytest.raises(CacheUnavailable):
            await cache.get("k")
        with pytest.raises(CacheUnavailable):
            await cache.set("k", b"v", ttl_seconds=1)
        assert not await cache.healthy()
        with pytest.raises(CacheUnavailable, match="refused|connecting"):
            await cache.ping()
    finally:
        await cache.close()


async def test_clear_deletes_only_keys_under_the_prefix(cache: Cache) -> None:
    for key in ("session:a", "session:b", "other:c"):
        await cache.set(key, b"x", ttl_seconds=30)
    await cache.clear("session:")
    assert [await cache.get(k) for k in ("session:a", "session:b", "other:c")] == [None, None, b"x"]


async def test_an_answer_redis_gives_as_an_error_is_cache_unavailable(redis_url: str, redis_prefix: str) -> None:
    import redis.asyncio as redis

    raw = redis.Redis.from_url(redis_url)
    await raw.hset(redis_prefix + "k", "field", "value")  # a key of another type: GET answers WRONGTYPE
    cache = RedisCache(redis_url, prefix=redis_prefix)
    try:
        with pytest.raises(CacheUnavailable):
            await cache.get("k")
    finally:
        await cache.close()
        await raw.aclose()


async def test_the_in_process_cache_forgets_entries_that_expired_unread() -> None:
    """Signed-out sessions' tombstones and sessions nobody asks about again must not pile up in an
    all-in-one process for its whole life, as they would in a dict nobody sweeps."""
    now = [0.0]
    cache = InMemoryCache(clock=lambda: now[0])
    for round_ in range(20):
        for i in range(1000):
            await cache.set(f"session:{round_}:{i}", b"x", ttl_seconds=60)
        now[0] += 120  # every entry of this round has expired, and none is read again
    assert len(cache) <= 2 * 1000 + 1024, "held no more than twice what is alive, plus the first sweep's size"
    await cache.set("live", b"y", ttl_seconds=60)
    assert await cache.get("live") == b"y"


async def test_the_first_call_after_redis_restarted_is_answered(redis_url: str, redis_prefix: str) -> None:
    """A Redis restart (or a failover, a proxy's restart) closes every connection; the first command
    after it went over a pooled connection the server had closed and failed, though Redis was back:
    each process's first readiness check answered 503 (`cache: not reachable`), its first rate-limit
    check went without Redis, and a revocation's drop cleared the whole session cache."""
    proxy = TcpProxy(int(redis_url.rsplit(":", 1)[1].split("/")[0]))
    await proxy.start()
    cache = RedisCache(f"redis://127.0.0.1:{proxy.port}/0", prefix=redis_prefix)
    try:
        await cache.set("k", b"v", ttl_seconds=30)
        calls = (cache.ping, lambda: cache.set("k", b"w", ttl_seconds=30), lambda: cache.set_many({"k": b"x"}, 30))
        for call in calls:
            await proxy.cut()
            await proxy.restore()
            await call()
        await proxy.cut()
        await proxy.restore()
        assert await cache.get("k") == b"x"
    finally:
        await cache.close()
        await proxy.cut()
