"""The cache port: bytes by key with a time to live.

The cache is never the source of truth: a miss, an expired entry or `CacheUnavailable` sends the
caller to the database. Adapters raise `CacheUnavailable` when the cache cannot be reached.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set_many(self, items: Mapping[str, bytes], ttl_seconds: float) -> None: ...

    async def set_if(self, key: str, value: bytes, ttl_seconds: float, expected: Mapping[str, bytes | None]) -> bool:
        """Sets `key` only if every key of `expected` holds exactly the value given (None: absent),
        checked and written in one atomic step; True if it was written. A writer that read some
        keys, did slow work, and must not overwrite what a later change decided uses this."""
        ...

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def delete_many(self, keys: Iterable[str]) -> None: ...

    async def clear(self, prefix: str) -> None:
        """Deletes every key that starts with `prefix` (for repairs after an outage; not a hot path)."""
        ...

    async def instance(self) -> str | None:
        """Which run of the cache server answers: a value that changes whenever the server starts
        again (Redis's `run_id`). Keys that survive a restart came back from a snapshot and may be
        older than what was written since; a caller that must know compares this with what it
        stored beside its keys. None when the server does not say."""
        ...

    async def ping(self) -> None:
        """Raises `CacheUnavailable`, saying why, when the cache cannot be reached. The process pings
        once at start, so a wrong or refusing `cache.url` is one line at start-up rather than a
        silently slower whoami afterwards."""
        ...

    async def healthy(self) -> bool: ...

    async def close(self) -> None: ...
