"""Sliding windows in Redis: one sorted set of hit times per key, trimmed, counted and added to by
one Lua script, so concurrent hits from any number of processes cannot overshoot the limit. The
script reads Redis's own clock: the replicas' clocks do not have to agree."""

from __future__ import annotations

import uuid

from shared.adapters.redis.client import UNREACHABLE as _UNREACHABLE
from shared.adapters.redis.client import redis_client
from shared.errors import CacheUnavailable
from shared.ratelimit.ports import Window

# KEYS[1] the window's set; ARGV: window (ms), limit, a unique member. Returns 0, or the ms to wait.
_HIT = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


class RedisRateLimiter:
    def __init__(self, url: str, prefix: str = "warden:", timeout_seconds: float = 0.5) -> None:
        self._client = redis_client(url, timeout_seconds)
        self._prefix = prefix + "ratelimit:"
        self._hit = self._client.register_script(_HIT)

    async def hit(self, key: str, window: Window) -> float:
        try:
            wait_ms = await self._hit(
                keys=[self._prefix + key],
                args=[max(1, int(window.seconds * 1000)), window.limit, uuid.uuid4().hex],
            )
        except _UNREACHABLE as exc:
            raise CacheUnavailable(str(exc)) from exc
        return int(wait_ms) / 1000

    async def reset(self, key: str) -> None:
        try:
            await self._client.delete(self._prefix + key)
        except _UNREACHABLE as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def close(self) -> None:
        await self._client.aclose()
