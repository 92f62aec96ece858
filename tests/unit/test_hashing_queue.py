"""The queue in front of the hashing threads (services/identity/hashing/queue.py): what it hands to
the pool at once, and in what order the rest get their turn."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

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
    """Past what the pool holds, turns go round-robin by client: another client's check comes after
    the flood's next one, not after the flood's whole line."""
    started: list[str] = []
    flood = [Work(started, f"flood-{i}") for i in range(5)]
    user = Work(started, "user")
    runs = [asyncio.ensure_future(queue.run("203.0.113.66", work)) for work in flood]
    await _settle()
    runs.append(asyncio.ensure_future(queue.run("198.51.100.5", user)))
    await _settle()
    for work in flood[:2]:
        work.finish.set()
        await _settle()
    assert started == ["flood-0", "flood-1", "flood-2", "user"]
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
