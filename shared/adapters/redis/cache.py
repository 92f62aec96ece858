"""Redis cache adapter (redis-py asyncio). Every key lives under a prefix so that several
Warden installations, or tests, can share one Redis without touching each other's keys."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from redis.exceptions import ResponseError

from shared.adapters.redis.client import UNREACHABLE as _UNREACHABLE
from shared.adapters.redis.client import redis_client
from shared.adapters.redis.pipelined_get import PipelinedGets
from shared.errors import CacheUnavailable

_CLEAR_BATCH = 500
# KEYS[1] the key to set, KEYS[2..] the watched keys; ARGV[1] value, ARGV[2] ttl (ms), ARGV[3..]
# what each watched key must hold: "=" and the value, or "!" for absent.
_SET_IF = """
for i = 2, #KEYS do
  local current = redis.call('GET', KEYS[i])
  local wanted = ARGV[i + 1]
  if wanted == '!' then
    if current then return 0 end
  elseif (not current) or ('=' .. current) ~= wanted then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""


class RedisCache:
    def __init__(self, url: str, prefix: str = "warden:", timeout_seconds: float = 0.5) -> None:
        self._client = redis_client(url, timeout_seconds)
        self._prefix = prefix
        self._set_if = self._client.register_script(_SET_IF)
        self._gets = PipelinedGets.for_url(url, timeout_seconds)  # whoami's hot path (see its module)

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def get(self, key: str) -> bytes | None:
        if self._gets is not None:
            return await self._gets.get((self._prefix + key).encode())
        try:
            value = await self._client.get(self._key(key))
            return value.encode() if isinstance(value, str) else value
        except _UNREACHABLE as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            await self.delete(key)
            return
        try:
            await self._client.set(self._key(key), value, px=max(1, int(ttl_seconds * 1000)))
        except _UNREACHABLE as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def set_many(self, items: Mapping[str, bytes], ttl_seconds: float) -> None:
        if not items:
            return
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for key, value in items.items():
                    pipe.set(self._key(key), value, px=max(1, int(ttl_seconds * 1000)))
                await pipe.execute()
        except _UNREACHABLE as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def set_if(self, key: str, value: bytes, ttl_seconds: float, expected: Mapping[str, bytes | None]) -> bool:
        if ttl_seconds <= 0:
            return False
        wanted = [b"!" if v is None else b"=" + v for v in expected.values()]
        try:
            written = await self._set_if(
                keys=[self._key(key), *(self._key(k) for k in expected)],
                args=[value, max(1, int(ttl_seconds * 1000)), *wanted],
            )
        except _UNREACHABLE as exc:
            raise CacheUnavailable(str(exc)) from exc
        return bool(written)

    async def delete(self, key: str) -> None:
        await self.delete_many([key])

    async def delete_many(self, keys: Iterable[str]) -> None:
        names = [self._key(k) for k in keys]
        if not names:
            return
        try:
            await self._client.delete(*names)
        except _UNREACHABLE as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def clear(self, prefix: str) -> None:
        try:
            batch: list[bytes] = []
            async for key in self._client.scan_iter(match=self._key(prefix) + "*", count=_CLEAR_BATCH):
                batch.append(key)
                if len(batch) >= _CLEAR_BATCH:
                    await self._client.unlink(*batch)
                    batch = []
            if batch:
                await self._client.unlink(*batch)
        except _UNREACHABLE as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def instance(self) -> str | None:
        try:
            server = await self._client.info("server")
        except ResponseError:  # INFO refused (an ACL, a managed Redis that renames it): cannot tell
            return None
        except _UNREACHABLE as exc:
            raise CacheUnavailable(str(exc)) from exc
        run_id = server.get("run_id")
        return str(run_id) if run_id else None

    async def ping(self) -> None:
        try:
            await self._client.ping()
        except _UNREACHABLE as exc:
            raise CacheUnavailable(str(exc) or type(exc).__name__) from exc

    async def healthy(self) -> bool:
        try:
            await self.ping()
        except CacheUnavailable:
            return False
        return True

    async def close(self) -> None:
        if self._gets is not None:
            await self._gets.close()
        await self._client.aclose()
