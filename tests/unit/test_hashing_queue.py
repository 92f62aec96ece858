"""The queue in front of the hashing threads (services/identity/hashing/queue.py): what it hands to
the pool at once, and in what order the rest get their turn."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client import CollectorRegistry

from services.identity.hashing import Hasher, hasher_config_from
from services.identity.hashing.fair_pool import FairPool
from services.identity.hashing.queue import HashingQueue, Overloaded
from shared.metrics.throttling import ThrottleMetrics


class Work:
    """A check that runs until it is let go, recording when it started."""

    def __init__(self, started: list[str], name: str) -> None:
        self.name = name
        self._started = started
        self.finish = asyncio.Event()

    async def __call__(self) -> str:
        self._started.append(self.name)
        await self.finish.wait()
        return self.name


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.fixture
def queue() -> HashingQueue:
    return HashingQueue(1, ThrottleMetrics(CollectorRegistry()))


async def test_each_thread_gets_the_check_after_its_own_before_it_finishes(queue: HashingQueue) -> None:
    """One thread: two checks are handed to the pool at once, so the thread starts the second as soon
    as the first is done rather than after the event loop comes round; the third waits its turn."""
    started: list[str] = []
    works = [Work(started, name) for name in ("first", "second", "third")]
    runs = [asyncio.ensure_future(queue.run("203.0.113.1", work)) for work in works]
    await _settle()
    assert started == ["first", "second"]
    works[0].finish.set()
    assert await runs[0] == "first"
    await _settle()
    assert started == ["first", "second", "third"]
    for work in works[1:]:
        work.finish.set()
    assert await asyncio.gather(*runs[1:]) == ["second", "third"]


async def test_a_waiting_client_is_served_before_a_floods_next_check(queue: HashingQueue) -> None:
    """Past what the pool holds, the next turn goes to the client with the fewest checks handed over:
    another client's check comes before the flood's next one, not after the flood's whole line (nor
    after the check the flood already has waiting on a thread)."""
    started: list[str] = []
    flood = [Work(started, f"flood-{i}") for i in range(5)]
    user = Work(started, "user")
    runs = [asyncio.ensure_future(queue.run("203.0.113.66", work)) for work in flood]
    await _settle()
    runs.append(asyncio.ensure_future(queue.run("198.51.100.5", user)))
    await _settle()
    flood[0].finish.set()
    await _settle()
    assert started == ["flood-0", "flood-1", "user"]
    flood[1].finish.set()
    await _settle()
    assert started == ["flood-0", "flood-1", "user", "flood-2"]
    for work in [*flood, user]:
        work.finish.set()
    await asyncio.gather(*runs)


async def test_a_client_past_its_share_is_refused_at_once(queue: HashingQueue) -> None:
    """A client with checks in progress past half the queue's room (8 a thread) is refused before its
    check costs anything; one with none in progress is always let in."""
    holding = [queue.admitted("203.0.113.66") for _ in range(4)]
    for entered in holding:
        await entered.__aenter__()
    with pytest.raises(Overloaded):
        async with queue.admitted("203.0.113.66"):
            pass
    async with queue.admitted("198.51.100.5"):
        pass
    for entered in holding:
        await entered.__aexit__(None, None, None)


async def test_a_flood_handed_to_the_thread_ahead_of_a_user_does_not_hold_up_the_users_check() -> None:
    """Finding 6 with the check the pool holds beyond the one it runs: the user's check is done after
    the flood's running one and its next one, as when the pool held only what it ran, not after a
    further check the flood was given before it."""
    config = hasher_config_from({"argon2": {"memory": "16MB", "iterations": 2, "parallelism": 1}}, dev=True)
    hasher = Hasher(config, max_workers=1)
    queue = HashingQueue(1, ThrottleMetrics(CollectorRegistry()))
    done: list[str] = []

    async def check(name: str) -> None:
        await hasher.verify("garbage", encoded)
        done.append(name)

    try:
        encoded = await hasher.hash("correct horse battery staple")
        flood = [asyncio.ensure_future(queue.run("203.0.113.66", lambda n=n: check(f"flood-{n}"))) for n in range(6)]
        await _settle()
        user = asyncio.ensure_future(queue.run("198.51.100.5", lambda: check("user")))
        await asyncio.gather(user, *flood)
    finally:
        hasher.close()
    assert done[:3] == ["flood-0", "flood-1", "user"], done


async def test_a_thread_that_comes_free_starts_the_check_of_the_client_with_fewest_running() -> None:
    """Two threads, each with a flood's check running and one more handed over behind it: when one
    comes free and the user's check has been handed over, the user's is the next one started, not
    the flood's checks handed over before it."""
    started: list[str] = []
    release = {name: threading.Event() for name in [*(f"flood-{n}" for n in range(8)), "user"]}

    def blocking(name: str) -> str:
        started.append(name)
        release[name].wait()
        return name

    async def until(condition: Callable[[], bool]) -> None:
        while not condition():
            await asyncio.sleep(0.001)
        await _settle()

    pool = FairPool(ThreadPoolExecutor(2))
    queue = HashingQueue(2, ThrottleMetrics(CollectorRegistry()))

    def check(name: str) -> Callable[[], Awaitable[str]]:
        return lambda: asyncio.wrap_future(pool.submit(blocking, name))

    try:
        flood = [asyncio.ensure_future(queue.run("203.0.113.66", check(f"flood-{n}"))) for n in range(8)]
        await until(lambda: len(started) == 2)
        user = asyncio.ensure_future(queue.run("198.51.100.5", check("user")))
        await _settle()
        release["flood-0"].set()
        await until(lambda: len(started) == 3)
        release["flood-1"].set()
        await until(lambda: len(started) == 4)
        assert "user" in started, started
    finally:
        for event in release.values():
            event.set()
        finished = await asyncio.gather(*flood, return_exceptions=True)
        pool.close()
    assert await user == "user" and finished == [f"flood-{n}" for n in range(8)]
