"""The cache port: bytes by key with a time to live.

The cache is never the source of truth: a miss, an expired entry or `CacheUnavailable` sends the
caller to the database. Adapters raise `CacheUnavailable` when the cache cannot be reached.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def delete_many(self, keys: Iterable[str]) -> None: ...

    async def clear(self, prefix: str) -> None:
        """Deletes every key that starts with `prefix` (for repairs after an outage; not a hot path)."""
        ...

    async def healthy(self) -> bool: ...

    async def close(self) -> None: ...
