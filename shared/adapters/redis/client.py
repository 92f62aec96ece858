"""The Redis connection every Redis adapter opens the same way: short timeouts, no retry on a
timeout (the caller falls back instead of waiting), one more try on a new connection when a pooled
one turns out closed (a Redis restart or failover closes them all: without it, each connection's
first command after Redis came back failed), and one tuple of what counts as unreachable."""

from __future__ import annotations

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
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
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        retry_on_error=[RedisConnectionError],
        health_check_interval=10,
    )
