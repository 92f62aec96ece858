"""The cache's GET on its own pipelined connection (shared/adapters/redis/pipelined_get.py), against
the real Redis: replies reach the GET that asked for them whatever else is in flight, values of any
bytes and size, the database and credentials of the URL, and errors as CacheUnavailable. (Redis
refusing or stalling: tests/integration/test_session_faults.py; the cache contract covers the rest.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis as redis_sync

from shared.adapters.redis.cache import RedisCache
from shared.adapters.redis.pipelined_get import PipelinedGets
from shared.errors import CacheUnavailable


@pytest.fixture
async def gets(redis_url: str) -> AsyncIterator[PipelinedGets]:
    pipelined = PipelinedGets.for_url(redis_url, 0.5)
    assert pipelined is not None
    yield pipelined
    await pipelined.close()


async def test_concurrent_gets_each_get_their_own_value(
    gets: PipelinedGets, redis_client: redis_sync.Redis, redis_prefix: str
) -> None:
    values = {f"{redis_prefix}k{i}": f"value {i}\r\n$3\r\n".encode() * (i % 7) for i in range(200)}
    redis_client.mset(values)
    keys = [*values, f"{redis_prefix}missing"] * 3
    found = await asyncio.gather(*(gets.get(k.encode()) for k in keys))
    assert found == [values.get(k) for k in keys]


async def test_a_value_larger_than_one_read(
    gets: PipelinedGets, redis_client: redis_sync.Redis, redis_prefix: str
) -> None:
    big = bytes(range(256)) * 8192  # 2 MiB
    redis_client.set(f"{redis_prefix}big", big, px=60_000)
    assert await asyncio.gather(gets.get(f"{redis_prefix}big".encode()), gets.get(b"nothing")) == [big, None]


async def test_a_cancelled_get_leaves_the_others_their_replies(
    gets: PipelinedGets, redis_client: redis_sync.Redis, redis_prefix: str
) -> None:
    redis_client.set(f"{redis_prefix}a", b"A", px=60_000)
    redis_client.set(f"{redis_prefix}b", b"B", px=60_000)
    await gets.get(b"warm-up")  # connected, so that the three are written at once
    cancelled = asyncio.ensure_future(gets.get(f"{redis_prefix}a".encode()))
    kept = [asyncio.ensure_future(gets.get(f"{redis_prefix}{k}".encode())) for k in "ba"]
    await asyncio.sleep(0)
    cancelled.cancel()
    assert await asyncio.gather(*kept) == [b"B", b"A"]


async def test_the_database_of_the_url_is_the_one_read(redis_url: str, redis_prefix: str) -> None:
    other = redis_url.rsplit("/", 1)[0] + "/3"
    client = redis_sync.Redis.from_url(other)
    client.set(f"{redis_prefix}db", b"three", px=60_000)
    cache = RedisCache(other, prefix=redis_prefix)
    try:
        assert await cache.get("db") == b"three"
    finally:
        client.delete(f"{redis_prefix}db")
        client.close()
        await cache.close()


async def test_credentials_redis_refuses_are_cache_unavailable(redis_url: str) -> None:
    refused = PipelinedGets.for_url(redis_url.replace("redis://", "redis://someone:wrong@"), 0.5)
    assert refused is not None
    with pytest.raises(CacheUnavailable):
        await refused.get(b"anything")
    await refused.close()


async def test_a_key_of_another_type_is_cache_unavailable_and_the_connection_goes_on(
    gets: PipelinedGets, redis_client: redis_sync.Redis, redis_prefix: str
) -> None:
    redis_client.hset(f"{redis_prefix}hash", "field", "value")
    redis_client.set(f"{redis_prefix}after", b"fine", px=60_000)
    with pytest.raises(CacheUnavailable, match="WRONGTYPE"):
        await gets.get(f"{redis_prefix}hash".encode())
    assert await gets.get(f"{redis_prefix}after".encode()) == b"fine"


def test_urls_with_options_keep_get_on_redis_py(redis_url: str) -> None:
    assert PipelinedGets.for_url(redis_url + "?ssl_cert_reqs=none", 0.5) is None
    assert PipelinedGets.for_url("unix:///run/redis.sock?db=2", 0.5) is not None


async def test_gets_waiting_for_a_stalled_connect_share_one_attempt_and_its_failure() -> None:
    """A listener that never answers: 20 GETs at once make one connection and all fail with it."""
    connections: list[asyncio.StreamWriter] = []
    listener = await asyncio.start_server(lambda _, writer: connections.append(writer), "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    stalled = PipelinedGets.for_url(f"redis://:secret@127.0.0.1:{port}/0", 0.3)  # AUTH is never answered
    assert stalled is not None
    failures = await asyncio.gather(*(stalled.get(b"k") for _ in range(20)), return_exceptions=True)
    assert all(isinstance(f, CacheUnavailable) for f in failures), failures
    assert len(connections) == 1, "each GET waited for an attempt of its own"
    await stalled.close()
    listener.close()
