"""The even answer time of recovery and verification sends (services/selfservice/flows/even_time.py):
a quick send and a slower one end at the same moment after they began, and a failure is not held."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.selfservice.flows.even_time import answered_no_sooner_than


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
