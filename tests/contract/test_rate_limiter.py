"""One contract for every rate-limiter adapter: the in-process one and Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from shared.adapters.memory.ratelimit import InMemoryRateLimiter
from shared.adapters.redis.ratelimit import RedisRateLimiter
from shared.errors import CacheUnavailable
from shared.ratelimit.ports import RateLimiter, Window
from tests.conftest import free_port


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        adapter: RateLimiter = InMemoryRateLimiter()
    else:
        # A generous timeout: the contract is about counts, and 50 new connections on a loaded machine are slow.
        adapter = RedisRateLimiter(
            request.getfixturevalue("redis_url"), prefix=request.getfixturevalue("redis_prefix"), timeout_seconds=5
        )
    yield adapter
    await adapter.close()


async def test_hits_up_to_the_limit_pass_and_the_next_waits_for_the_oldest(limiter: RateLimiter) -> None:
    window = Window(limit=3, seconds=30)
    assert [await limiter.hit("ip:a", window) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = await limiter.hit("ip:a", window)
    assert 0 < wait <= 30
    assert await limiter.hit("ip:b", window) == 0.0, "keys are counted apart"


async def test_a_refused_hit_is_not_recorded_and_the_window_slides(limiter: RateLimiter) -> None:
    window = Window(limit=2, seconds=0.3)
    assert await limiter.hit("k", window) == 0.0
    await asyncio.sleep(0.15)
    assert await limiter.hit("k", window) == 0.0
    for _ in range(5):  # refused hits do not push the window further out
        assert await limiter.hit("k", window) > 0
    await asyncio.sleep(0.2)  # the first hit has left the window, the second has not
    assert await limiter.hit("k", window) == 0.0
    assert await limiter.hit("k", window) > 0


async def test_concurrent_hits_never_overshoot_the_limit(limiter: RateLimiter) -> None:
    window = Window(limit=10, seconds=30)
    first = await asyncio.gather(*(limiter.hit("burst", window) for _ in range(50)))
    assert sum(1 for r in first if r == 0.0) == 10
    again = await asyncio.gather(*(limiter.hit("burst", window) for _ in range(50)))
    assert all(r > 0 for r in again)


async def test_reset_forgets_the_hits(limiter: RateLimiter) -> None:
    window = Window(limit=1, seconds=30)
    assert await limiter.hit("k", window) == 0.0
    assert await limiter.hit("k", window) > 0
    await limiter.reset("k")
    assert await limiter.hit("k", window) == 0.0


async def test_unreachable_redis_raises_cache_unavailable() -> None:
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{free_port()}/0", timeout_seconds=0.2)
    try:
        with pytest.raises(CacheUnavailable):
            await limiter.hit("k", Window(1, 1))
    finally:
        await limiter.close()
