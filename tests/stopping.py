"""Whether a background loop stops when it is cancelled in the same moment as something wakes it (a
commit, a queued message) as a process stops: Python 3.11's `asyncio.wait_for` returned the wake-up
and lost the cancellation, and the process hung on its way out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


async def stops_when_woken_as_cancelled(loop: Coroutine[Any, Any, None], wake: Callable[[], None]) -> bool:
    running = asyncio.create_task(loop)
    for _ in range(50):  # until it waits (its first, empty, round done)
        await asyncio.sleep(0.01)
    wake()
    running.cancel()
    done, _ = await asyncio.wait([running], timeout=5)
    return bool(done) and running.cancelled()
