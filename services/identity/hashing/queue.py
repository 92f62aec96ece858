"""The queue in front of the hashing threads (finding 6 of the security review: 157 garbage logins
pushed a real user's login from 0.33 s to 20 s, and abandoned requests kept the threads busy).

- Bounded: past `max_waiting` checks in progress (or half of it from one client) a client that
  already has checks in progress is refused at once (503, Retry-After), before its check costs a
  database write or a hash, so a flood costs the flooder a fast refusal, not everyone a long wait;
  a client with none in progress always gets in line.
- Fair: waiting checks are queued per client and served round-robin, so one client's flood waits
  behind itself and another client's login takes the next free thread.
- Never for nobody: when a check's turn comes, it is dropped if its caller has gone or its deadline
  has passed (`shared.http.budget`).
- The threads never wait for the event loop: each has one check running and one more handed to the
  pool behind it, so a finished hash is followed at once by the next, not after the loop has
  resumed the finished check and passed its turn on. Without it the cores idled 7% of the time
  under a login load, while the loop, busy with other requests, came round (issue 17). So that a
  flood's checks handed over that way do not keep a user's behind them, a turn goes to the waiting
  client with the fewest checks handed over, and a thread that comes free starts the check of the
  client with the fewest running (fair_pool.py), not the one handed over first.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from shared.errors import ServiceUnavailable
from shared.http.budget import budget
from shared.metrics.throttling import ThrottleMetrics

from .fair_pool import client as hashing_client

T = TypeVar("T")
# Checks that may wait per hashing thread: with argon2 at ~0.5 s a hash, a full queue is a few
# seconds of work; past it, a new check is refused at once.
WAITING_PER_THREAD = 8
# Checks handed to the pool per thread: the one it runs and the one it starts next.
HANDED_PER_THREAD = 2


class Overloaded(ServiceUnavailable):
    retry_after = 1

    def __init__(self) -> None:
        super().__init__("Too many password checks are waiting; try again in a moment.")


class HashingQueue:
    def __init__(self, threads: int, metrics: ThrottleMetrics) -> None:
        self._slots = HANDED_PER_THREAD * threads
        max_waiting = WAITING_PER_THREAD * threads
        self._max_waiting = max_waiting
        self._max_per_client = max(1, max_waiting // 2)
        self._running = 0
        self._handed: Counter[str] = Counter()  # checks holding a slot, by client
        self._waiting: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()
        self._count = 0
        self._pending: Counter[str] = Counter()
        self._metrics = metrics
        metrics.watch_queue(lambda: self._count)

    @asynccontextmanager
    async def admitted(self, client: str | None) -> AsyncIterator[None]:
        """The whole check, from its first database read: a client with nothing in progress is always
        let in (a flood cannot shut others out); one with checks in progress is refused at once past
        its share or when the queue is full, before it costs a write or a hash."""
        key = client or "-"
        mine = self._pending[key]
        if mine and (mine >= self._max_per_client or sum(self._pending.values()) >= self._max_waiting):
            self._metrics.queue_rejected.inc()
            raise Overloaded()
        self._pending[key] += 1
        try:
            yield
        finally:
            self._pending[key] -= 1
            if not self._pending[key]:
                del self._pending[key]

    async def run(self, client: str | None, work: Callable[[], Awaitable[T]]) -> T:
        """Runs `work` when a slot is free and it is this client's turn; Overloaded when too many wait."""
        caller = budget.get()
        key = client or "-"
        if self._running >= self._slots or self._count:
            queued_at = time.perf_counter()
            await self._wait_turn(key)
            self._metrics.queue_wait.observe(time.perf_counter() - queued_at)
        else:
            self._running += 1
            self._handed[key] += 1
            self._metrics.queue_wait.observe(0.0)
        handing = hashing_client.set(key)
        try:
            if caller.expired():
                raise ServiceUnavailable("the caller has gone or its deadline has passed")
            return await work()
        finally:
            hashing_client.reset(handing)
            self._release(key)

    async def _wait_turn(self, client: str) -> None:
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(client, deque()).append(turn)
        self._count += 1
        try:
            await turn  # _next hands over the slot (self._running already counts it)
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release(client)  # granted, then cancelled before running: pass the slot on
            else:
                self._forget(client, turn)
            raise

    def _forget(self, client: str, turn: asyncio.Future[None]) -> None:
        queue = self._waiting.get(client)
        if queue is not None and turn in queue:
            queue.remove(turn)
            self._count -= 1
            if not queue:
                del self._waiting[client]

    def _release(self, client: str) -> None:
        self._running -= 1
        self._handed[client] -= 1
        if not self._handed[client]:
            del self._handed[client]
        self._next()

    def _next(self) -> None:
        while self._running < self._slots and self._waiting:
            # The first of the clients with the fewest checks handed over: a flood holding the
            # threads and the checks behind them does not take the next turn before a newcomer.
            client = min(self._waiting, key=lambda c: self._handed[c])
            queue = self._waiting.pop(client)
            turn = queue.popleft()
            self._count -= 1
            if queue:  # round-robin among equals: this client goes to the back of the line
                self._waiting[client] = queue
            if not turn.done():
                self._running += 1
                self._handed[client] += 1
                turn.set_result(None)
