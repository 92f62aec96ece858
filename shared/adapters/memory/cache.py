"""In-process cache for the embedded mode and fast tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence


class InMemoryCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: dict[str, tuple[bytes, float]] = {}
        self._clock = clock

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, expires = entry
        if self._clock() >= expires:
            del self._entries[key]
            return None
        return value

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            self._entries.pop(key, None)
            return
        self._entries[key] = (value, self._clock() + ttl_seconds)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return [await self.get(key) for key in keys]

    async def set_many(self, items: Mapping[str, bytes], ttl_seconds: float) -> None:
        for key, value in items.items():
            await self.set(key, value, ttl_seconds)

    async def set_if(self, key: str, value: bytes, ttl_seconds: float, expected: Mapping[str, bytes | None]) -> bool:
        # No await between the check and the write: atomic on the one event loop that owns this cache.
        for watched, wanted in expected.items():
            if self._live(watched) != wanted:
                return False
        if ttl_seconds <= 0:
            self._entries.pop(key, None)
        else:
            self._entries[key] = (value, self._clock() + ttl_seconds)
        return True

    def _live(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        return entry[0] if entry is not None and self._clock() < entry[1] else None

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    async def delete_many(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._entries.pop(key, None)

    async def clear(self, prefix: str) -> None:
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]

    async def ping(self) -> None:
        """In the process's memory: always there."""

    async def healthy(self) -> bool:
        return True

    async def close(self) -> None:
        self._entries.clear()
