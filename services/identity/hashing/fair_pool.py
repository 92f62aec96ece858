"""The hashing threads' own line: a thread that comes free takes its next check from the client with
the fewest checks running (among equals, the one that has waited longest), at that moment.

The queue in front (queue.py) hands the pool one check more per thread than it runs, so that a
thread goes from one hash to the next without waiting for the event loop (issue 17). In a plain
thread pool those extra checks would be started in the order they were handed over: a flood that
held every thread held the next check of each too, and a user arriving then waited a whole round of
the flood's hashes more than when the pool held only what it ran (finding 6). Chosen when a thread
comes free instead, the user's check, once handed over, is the next one started.

`client` names whose check is being handed over: the queue sets it for the check's work (a context
variable, so that nothing between the queue and the hasher has to carry it)."""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any

client: ContextVar[str] = ContextVar("hashing_client", default="-")

_Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]


class FairPool:
    def __init__(self, threads: ThreadPoolExecutor) -> None:
        self._threads = threads
        self._lock = threading.Lock()
        self._waiting: OrderedDict[str, deque[_Job]] = OrderedDict()
        self._running: Counter[str] = Counter()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """`fn(*args)` on a thread, in `client`'s turn; cancelling the future before it starts drops it."""
        future: Future[Any] = Future()
        with self._lock:
            self._waiting.setdefault(client.get(), deque()).append((future, fn, args))
        self._threads.submit(self._take)  # one turn on a thread per check; any check may use it
        return future

    def close(self) -> None:
        """Cancels what has not started (its caller hears CancelledError); running checks finish."""
        with self._lock:
            waiting, self._waiting = list(self._waiting.values()), OrderedDict()
        for queue in waiting:
            for future, _, _ in queue:
                future.cancel()
        self._threads.shutdown(wait=False, cancel_futures=True)

    def _take(self) -> None:
        """On a thread: the fairest waiting check (one whose caller cancelled it is passed over)."""
        while (job := self._next()) is not None:
            owner, (future, fn, args) = job
            try:
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    result = fn(*args)
                except BaseException as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(result)
                return
            finally:
                with self._lock:
                    self._running[owner] -= 1
                    if not self._running[owner]:
                        del self._running[owner]

    def _next(self) -> tuple[str, _Job] | None:
        with self._lock:
            if not self._waiting:
                return None
            owner = min(self._waiting, key=lambda c: self._running[c])  # the first of the least busy
            queue = self._waiting.pop(owner)
            job = queue.popleft()
            if queue:  # round-robin among equals: this client goes to the back of the line
                self._waiting[owner] = queue
            self._running[owner] += 1
            return owner, job
