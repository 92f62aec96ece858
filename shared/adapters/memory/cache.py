"""In-process cache for the embedded mode and fast tests.

Redis forgets an expired key by itself; a dict does not, and an entry that is never read again (the
tombstone of a signed-out session, a session nobody asks about) would stay for the life of the
process. So expired entries are swept out whenever the dict has doubled since the last sweep: each
write pays for that sweep a constant share, and the dict stays within twice what is alive."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping

_FIRST_SWEEP = 1024


class InMemoryCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: dict[str, tuple[bytes, float]] = {}
        self._clock = clock
        self._sweep_at = _FIRST_SWEEP
        self._instance = uuid.uuid4().hex  # a dict is never restored: one run for its whole life

    def __len__(self) -> int:
        """How many entries are held, expired ones not yet swept included."""
        return len(self._entries)

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
        self._write(key, value, ttl_seconds)

    def _write(self, key: str, value: bytes, ttl_seconds: float) -> None:
        self._entries[key] = (value, self._clock() + ttl_seconds)
        if len(self._entries) >= self._sweep_at:
            now = self._clock()
            self._entries = {k: entry for k, entry in self._entries.items() if entry[1] > now}
            self._sweep_at = max(_FIRST_SWEEP, 2 * len(self._entries))

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
            self._write(key, value, ttl_seconds)
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

    async def instance(self) -> str:
        return self._instance

    async def ping(self) -> None:
        """In the process's memory: always there."""

    async def healthy(self) -> bool:
        return True

    async def close(self) -> None:
        self._entries.clear()
