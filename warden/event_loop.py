"""The event loop `warden serve` runs on: uvloop when it is installed (a dependency on Linux), else
asyncio's own. uvloop's transports and timers cost the loop less per request, which every
request-bound figure (whoami above all) feels; nothing in Warden depends on which loop it is."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop maker, or None (asyncio's default) where uvloop is not installed."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop  # type: ignore[no-any-return]


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on the fastest loop installed."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)


def loop_name() -> str:
    """The running loop's package ("uvloop", "asyncio"), for the start-up log line."""
    return type(asyncio.get_running_loop()).__module__.split(".")[0]
