"""The rate-limiter port: sliding windows of hits by key.

A window is a limit and a length: at most `limit` hits under one key in any `seconds`-long stretch
of time (a sliding log, not fixed buckets, so a burst at a bucket's edge cannot double the limit).
`hit` records a hit only when the window has room; when it has none it records nothing and says how
long until it will. Adapters raise `CacheUnavailable` when their store cannot be reached; what to do
then (let the request through, or refuse it) is the caller's policy, not the adapter's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Window:
    limit: int
    seconds: float


class RateLimiter(Protocol):
    async def hit(self, key: str, window: Window) -> float:
        """Records one hit under `key` if `window` has room and returns 0.0; otherwise records
        nothing and returns the seconds until the oldest hit leaves the window (> 0)."""
        ...

    async def reset(self, key: str) -> None:
        """Forgets every hit under `key`."""
        ...

    async def close(self) -> None: ...
