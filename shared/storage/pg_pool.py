"""The asyncpg connections a process keeps open to one PostgreSQL database, handed out one at a time.

asyncpg's own pool wraps every checkout in a task (`wait_for` around the acquire) and every return
in another (`shield` around the release), with a timeout scheduled for each: about 30 µs of the
event loop per checkout and return on uvloop, measured alone, for the six a login makes (the A/B in
docs/performance.md, "Session 26"). Here a checkout of an idle connection and its return are a pop
and an append; only a checkout that finds none idle awaits, for a new connection or for one given
back.

- At most `size` connections are open or opening at once (`max_conns` in the DSN).
- A connection found closed (the server dropped it) is let go, and another one is opened.
- A connection given back inside a transaction (which `Database` never does: it rolls back first),
  closed, or in a state its user could not vouch for (an exchange with the server was cancelled
  part-way: `release(reusable=False)`) is let go rather than handed out again.
- A connection left idle longer than IDLE_LIFETIME is closed, when a checkout finds it or when a
  return finds it the oldest idle one, so a burst's connections do not stay open for good.
- A checkout waits at most ACQUIRE_TIMEOUT for a connection given back, then fails with
  SQLAlchemy's TimeoutError (its pool's `pool_timeout`), so the caller sees a clear error instead
  of hanging; opening a new connection gives up after as long (asyncpg's `timeout`, unless the
  DSN sets one).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg
from sqlalchemy import exc as sa_exc

ACQUIRE_TIMEOUT = 30.0
IDLE_LIFETIME = 1800.0


class ConnectionPool:
    def __init__(
        self,
        connect_args: Mapping[str, Any],
        size: int,
        init: Callable[[asyncpg.Connection], Awaitable[None]],
    ) -> None:
        self._connect_args = {"timeout": ACQUIRE_TIMEOUT, **connect_args}
        self._size = size
        self._init = init
        # Idle connections with when each was given back, the latest last: checkouts take the
        # latest (warm, and the older ones age out), returns close the oldest once it has aged out.
        self._idle: collections.deque[tuple[asyncpg.Connection, float]] = collections.deque()
        self._opened = 0  # open or being opened, idle or handed out
        self._waiters: collections.deque[asyncio.Future[asyncpg.Connection]] = collections.deque()
        self._closed = False
        self._closing: set[asyncio.Future[None]] = set()  # polite closes under way (kept from the GC)

    async def acquire(self) -> asyncpg.Connection:
        if self._closed:
            raise _closed()
        now = time.monotonic()
        while self._idle:
            raw, since = self._idle.pop()
            if not raw.is_closed() and now - since < IDLE_LIFETIME:
                return raw
            self._let_go(raw, politely=True)
        if self._opened < self._size:
            self._opened += 1
            return await self._open()
        return await self._wait()

    def release(self, raw: asyncpg.Connection, *, reusable: bool = True) -> None:
        """Gives a connection back (no await: a cancelled caller cannot leave it half returned).
        `reusable=False`: its user cannot tell what state it is in; it is cut off."""
        if self._closed or not reusable or raw.is_closed() or raw.is_in_transaction():
            self._let_go(raw)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(raw)
                return
        now = time.monotonic()
        self._idle.append((raw, now))
        if now - self._idle[0][1] >= IDLE_LIFETIME:  # one left over from a burst, unused since
            self._let_go(self._idle.popleft()[0], politely=True)

    async def close(self) -> None:
        """Closes the idle connections; those handed out close as they are given back."""
        self._closed = True
        idle, self._idle = self._idle, collections.deque()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(_closed())
        self._waiters.clear()
        for raw, _ in idle:
            self._opened -= 1
            await _close_quietly(raw)
        await asyncio.gather(*self._closing, return_exceptions=True)

    async def _open(self) -> asyncpg.Connection:
        """A new connection in a slot the caller has counted in `_opened`: counted before anything
        awaits, so that no other checkout takes the same slot in the meantime."""
        try:
            raw = await asyncpg.connect(**self._connect_args)
        except BaseException:
            self._opened -= 1
            self._hand_on_a_free_slot()
            raise
        try:
            await self._init(raw)
        except BaseException:
            self._let_go(raw)
            raise
        if self._closed:  # closed while this one was opening: close() could not see it
            self._let_go(raw)
            raise _closed()
        return raw

    async def _wait(self) -> asyncpg.Connection:
        waiter: asyncio.Future[asyncpg.Connection] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(ACQUIRE_TIMEOUT):
                return await waiter
        except (TimeoutError, asyncio.CancelledError) as stopped:
            # Given a connection in the same moment as the wait ended: keep it when it was the
            # timeout (it came in time after all), give it on when cancelled, so it is not lost.
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                if isinstance(stopped, TimeoutError):
                    return waiter.result()
                self.release(waiter.result())
            if isinstance(stopped, TimeoutError):
                raise sa_exc.TimeoutError(f"no PostgreSQL connection free after {ACQUIRE_TIMEOUT:.0f} s") from stopped
            raise
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def _let_go(self, raw: asyncpg.Connection, *, politely: bool = False) -> None:
        """Drops a connection from the pool, and lets a waiter open one. `politely`: an idle one that
        outlived IDLE_LIFETIME is closed in the background, so the server logs no lost client;
        others (broken, left in a transaction, given back to a closed pool) are cut off."""
        self._opened -= 1
        if not raw.is_closed():
            if politely:
                closing = asyncio.ensure_future(_close_quietly(raw))
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)
            else:
                raw.terminate()
        self._hand_on_a_free_slot()

    def _hand_on_a_free_slot(self) -> None:
        """A slot came free while others wait: the first of them opens a connection in it."""
        while self._waiters and not self._closed:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._opened += 1
                task = asyncio.ensure_future(self._open())
                task.add_done_callback(functools.partial(_settle, waiter, pool=self))
                return


def _closed() -> sa_exc.InterfaceError:
    return sa_exc.InterfaceError("the pool is closed", None, Exception("closed"))


async def _close_quietly(raw: asyncpg.Connection) -> None:
    try:
        await asyncio.wait_for(raw.close(), 5)
    except Exception:
        raw.terminate()


def _settle(
    waiter: asyncio.Future[asyncpg.Connection], opened: asyncio.Future[asyncpg.Connection], *, pool: ConnectionPool
) -> None:
    """Hands a connection opened for `waiter` to it, or back to the pool if it stopped waiting."""
    if opened.cancelled():
        if not waiter.done():
            waiter.cancel()
        return
    error = opened.exception()
    if error is not None:
        if not waiter.done():
            waiter.set_exception(error)
        return
    if waiter.done():
        pool.release(opened.result())
    else:
        waiter.set_result(opened.result())
