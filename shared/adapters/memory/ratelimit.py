"""In-process sliding windows, for the embedded mode (one process: its memory is the whole truth)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from shared.ratelimit.ports import Window


class InMemoryRateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._clock = clock
        self._max_keys = max_keys  # many keys from a flood must not grow memory without bound

    async def hit(self, key: str, window: Window) -> float:
        now = self._clock()
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self._max_keys:
                self._forget_idle(now, window.seconds)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - window.seconds:
            hits.popleft()
        if len(hits) >= window.limit:
            return max(0.001, hits[0] + window.seconds - now)
        hits.append(now)
        return 0.0

    async def reset(self, key: str) -> None:
        self._hits.pop(key, None)

    async def close(self) -> None:
        self._hits.clear()

    def _forget_idle(self, now: float, seconds: float) -> None:
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - seconds]:
            del self._hits[key]
        if len(self._hits) >= self._max_keys:  # still full: drop the oldest half rather than grow
            for key in list(self._hits)[: self._max_keys // 2]:
                del self._hits[key]
