"""What a service is to the process that runs it: a definition (name, migrations, routes) that
needs nothing to exist, and a runtime built from the infrastructure the process provides."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from aiohttp import web

from shared.bus.ports import Bus, DurableQueue, Subscription
from shared.cache.ports import Cache
from shared.clients import Clients
from shared.metrics import Metrics
from shared.ratelimit.ports import RateLimiter
from shared.storage.database import Database
from shared.storage.migrations import MigrationSet

if TYPE_CHECKING:  # grpc is imported by the services that serve it, not by every process
    from shared.grpc.server import GrpcService

Port = Literal["public", "admin", "internal"]
C = TypeVar("C")  # a service's container: what its handlers are given
C_in = TypeVar("C_in", contravariant=True)
# A handler of a service: its container and the request. The process binds the container once.
Handler = Callable[[C, web.Request], Awaitable[web.StreamResponse]]
BoundHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# `warden cleanup`'s step for one table: deletes up to a batch (the int) of the rows whose lifetime
# ended before the datetime (now, less `database.cleanup.older_than`); returns how many rows went.
Cleanup = Callable[[Database, int, datetime], Awaitable[int]]


@dataclass(frozen=True)
class Route(Generic[C_in]):
    """One path of the route table, and the handler that answers it given the service's container.
    The table itself can be read (for nginx, the Ingress) without building anything."""

    port: Port
    method: str
    path: str
    handler: Handler[C_in]

    def bind(self, container: C_in) -> BoundHandler:
        return functools.partial(self.handler, container)

    @property
    def paths(self) -> tuple[str, ...]:
        """Where it is served: Kratos's admin server also answers admin paths without `/admin`."""
        if self.port == "admin" and self.path.startswith("/admin/"):
            return (self.path, self.path.removeprefix("/admin"))
        return (self.path,)


@dataclass(frozen=True)
class Infrastructure:
    """What the process hands each service: its database, the bus, the cache, the rate limiter
    (on the cache's store), clients of the services it may call, and the process's metrics."""

    settings: Any  # shared.config.Settings
    database: Database
    bus: Bus
    cache: Cache
    clients: Clients
    limiter: RateLimiter
    metrics: Metrics


@dataclass
class ServiceRuntime(Generic[C]):
    name: str
    container: C
    subscriptions: Sequence[Subscription] = ()
    background: Sequence[Callable[[], Awaitable[None]]] = ()
    internal_api: Any = None  # the in-process adapter of this service's client Protocol
    close: Callable[[], Awaitable[None]] | None = None
    grpc: Sequence[GrpcService] = ()  # served on the process's gRPC port


@dataclass(frozen=True)
class ServiceDefinition(Generic[C]):
    name: str
    migrations: MigrationSet
    routes: Sequence[Route[C]]
    build: Callable[[Infrastructure], Awaitable[ServiceRuntime[C]]]
    depends_on: Sequence[str] = field(default_factory=tuple)
    # Full names of the gRPC services it serves on the gRPC port (for the route table, nginx, Ingress).
    grpc_services: Sequence[str] = field(default_factory=tuple)
    # `warden cleanup`: a step a table, in order (it may pause between them), before the records of
    # processed events every service prunes; by the settings, as a step may follow a configured
    # lifetime (the password throttle's `forget_after`). (shared.config.Settings)
    cleanup: Callable[[Any], Sequence[Cleanup]] = lambda _settings: ()
    # The durable queues its consumers read, by the settings: every process declares every service's
    # before it publishes, so that an event waits in its queue for a consumer not yet running.
    queues: Callable[[Any], Sequence[DurableQueue]] = lambda _settings: ()  # (shared.config.Settings)
