"""Chooses the adapters a process runs on, from the settings: the one place that knows them all."""

from __future__ import annotations

from typing import Any

import aiohttp

from services.identity.password_migration import MigrationHookConfig
from shared.adapters.memory.bus import InMemoryBus
from shared.adapters.memory.cache import InMemoryCache
from shared.adapters.memory.ratelimit import InMemoryRateLimiter
from shared.bus.ports import Bus, BusObserver
from shared.cache.ports import Cache
from shared.clients import Clients
from shared.clients.http import HttpServiceClient, InternalHttp, internal_session
from shared.clients.identity import HttpIdentityClient
from shared.clients.session import HttpSessionClient
from shared.errors import ConfigError
from shared.http.tls import internal_client_context
from shared.http.tls_reload import ReloadingContext
from shared.ratelimit.ports import RateLimiter
from shared.storage.database import Database


def make_bus(settings: Any, observer: BusObserver | None = None) -> Bus:
    url = settings.bus.url
    if url == "memory":
        return InMemoryBus(observer)
    if url.startswith(("amqp://", "amqps://")):
        from shared.adapters.rabbitmq.bus import RabbitMqBus

        return RabbitMqBus(url, settings.bus.exchange, observer=observer)
    raise ConfigError(
        f"config: bus.url: unsupported broker URL scheme in {url.split('://')[0]!r}; use memory or amqp://"
    )


def make_cache(settings: Any) -> Cache:
    url = settings.cache.url
    if url == "memory":
        return InMemoryCache()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from shared.adapters.redis.cache import RedisCache

        return RedisCache(url, prefix=settings.cache.prefix)
    raise ConfigError(
        f"config: cache.url: unsupported cache URL scheme in {url.split('://')[0]!r}; use memory or redis://"
    )


def make_limiter(settings: Any) -> RateLimiter:
    """Sliding windows live where the cache lives: Redis for replicas that must share their counts,
    the process's memory for the embedded mode."""
    url = settings.cache.url
    if url == "memory":
        return InMemoryRateLimiter()
    from shared.adapters.redis.ratelimit import RedisRateLimiter

    return RedisRateLimiter(url, prefix=settings.cache.prefix)


class Databases:
    """One engine per distinct DSN: services that share a DSN share a pool (and, for SQLite, the lock
    that keeps its one writer at a time)."""

    def __init__(self) -> None:
        self._by_dsn: dict[str, Database] = {}

    def for_dsn(self, dsn: str) -> Database:
        if dsn not in self._by_dsn:
            self._by_dsn[dsn] = Database.from_dsn(dsn)
        return self._by_dsn[dsn]

    def all(self) -> list[Database]:
        return list(self._by_dsn.values())

    async def dispose(self) -> None:
        for database in self._by_dsn.values():
            await database.dispose()


_TYPED_CLIENTS: dict[str, Any] = {"session": HttpSessionClient}  # identity's: `password_check_seconds`


def http_clients(
    settings: Any, services: list[str], admin_tls: ReloadingContext | None = None
) -> tuple[Clients, list[aiohttp.ClientSession]]:
    """HTTP adapters for the services whose `services.<name>.internal_url` is configured, each with
    its own keep-alive session (`internal_session`), and those sessions for the caller to close.
    An `https://` one is verified against the system's CAs and this process's own admin certificate
    (`shared.http.tls.internal_client_context`), and each renewal of it that `admin_tls` (the
    process's admin port) loads."""
    found: dict[str, HttpServiceClient] = {}
    sessions: list[aiohttp.ClientSession] = []
    urls = {name: settings.internal_url(name) for name in services}
    trust = internal_client_context(settings) if any(urls.values()) else None
    if trust is not None and admin_tls is not None:
        admin_tls.trusted_by(trust)
    for name in services:
        url = urls[name]
        if url:
            sessions.append(internal_session(trust=trust))
            http = InternalHttp(url, settings.internal_token, sessions[-1])
            if name == "identity":
                found[name] = HttpIdentityClient(http, password_check_seconds(settings, http))
                continue
            typed = _TYPED_CLIENTS.get(name)
            found[name] = typed(http) if typed else HttpServiceClient(name, http)
    return Clients(**found), sessions  # type: ignore[arg-type]


def password_check_seconds(settings: Any, http: InternalHttp) -> float | None:
    """How long self-service waits for the identity service to check a password: with the password
    migration hook enabled, the internal calls' usual timeout plus the hook's (`webhooks.timeout`),
    so that the user hears the hook's own answer (its 504 when it is slow) as in one process, and
    not a 503 of the call while the identity service still waits for the hook (and may store the
    password after the user was answered). Every other call keeps the usual timeout."""
    hook = MigrationHookConfig.from_settings(settings)
    return http.timeout_seconds + hook.timeout if hook is not None else None
