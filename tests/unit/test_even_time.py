"""The even answer time of recovery and verification sends, and of registrations that hide existing
accounts (services/selfservice/flows/even_time.py): a quick send and a slower one end at the same
moment after they began, and a failure is not held."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.selfservice.flows.even_time import SlowestRecent, answered_no_sooner_than


@pytest.mark.parametrize("work_seconds", [0.0, 0.01, 0.03])
async def test_work_shorter_than_the_answer_time_is_held_to_it(work_seconds: float) -> None:
    started = time.monotonic()
    async with answered_no_sooner_than(0.06):
        await asyncio.sleep(work_seconds)
    assert time.monotonic() - started >= 0.06


async def test_a_send_that_fails_answers_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(RuntimeError):
        async with answered_no_sooner_than(5.0):
            raise RuntimeError("the database is down")
    assert time.monotonic() - started < 5.0


async def test_every_answer_waits_for_the_slowest_recent_one_and_a_margin() -> None:
    """A registration (even_time.SlowestRecent): a quick block after a slow one ends as late after
    its start as the slow one did, so a cheaper kind of answer does not show."""
    clock = SlowestRecent(margin=0.02)
    took = []
    for work_seconds in (0.05, 0.0, 0.01):
        started = time.monotonic()
        async with clock.held():
            await asyncio.sleep(work_seconds)
        took.append(time.monotonic() - started)
    assert all(t >= 0.07 for t in took), took
    assert max(took) - min(took) < 0.02, took


async def test_a_held_block_that_fails_answers_at_once() -> None:
    clock = SlowestRecent(margin=5.0)
    started = time.monotonic()
    with pytest.raises(RuntimeError):
        async with clock.held():
            raise RuntimeError("the identity service is down")
    assert time.monotonic() - started < 5.0


async def test_a_stall_holds_the_answers_after_it_no_longer_than_the_cap() -> None:
    """A stall counts for `cap` seconds at most; a quick answer after it waits that long, not as long
    as the stall took, and the floor does not age away between answers spaced far apart."""
    clock = SlowestRecent(margin=0.0, cap=0.1)
    async with clock.held():
        await asyncio.sleep(0.3)  # the stall
    started = time.monotonic()
    async with clock.held():
        pass
    took = time.monotonic() - started
    assert 0.08 <= took < 0.25, took
    await asyncio.sleep(0.3)  # an answer long after: still held to the floor
    started = time.monotonic()
    async with clock.held():
        pass
    assert time.monotonic() - started >= 0.08
