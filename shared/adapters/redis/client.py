"""The Redis connection every Redis adapter opens the same way: short timeouts, no retry on a
timeout (the caller falls back instead of waiting), and one tuple of what counts as unreachable."""

from __future__ import annotations

import redis.asyncio as redis
from redis.exceptions import RedisError

# Unreachable, but also any error Redis answers (a key of another type, OOM, a read-only replica
# after a failover): the cache is never the truth, so every failure is "no cache" to the caller.
UNREACHABLE = (RedisError, OSError)


def redis_client(url: str, timeout_seconds: float) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry_on_timeout=False,
        health_check_interval=10,
    )
