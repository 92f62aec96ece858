"""One Warden process: the services it runs, on the adapters its settings name, behind two ports.

`warden serve` runs all four services here; `warden serve <service>` runs one. Starting opens the
database(s), checks or applies migrations, connects the bus and the cache, builds each service in
dependency order (giving it in-process clients of the services already built here and HTTP clients
of the others), subscribes its consumers, starts its background tasks, and opens the two ports
(HTTPS where `serve.<port>.tls` says so).
Stopping does the reverse: stop taking requests, finish those in flight, close consumers, close
connections.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from shared.config.weak_secrets import weak_secret_warnings
from shared.errors import CacheUnavailable
from shared.grpc.server import GrpcConfig, GrpcServer
from shared.http.admin_keys import AdminKeys
from shared.http.app import BoundRoute, ReadinessCheck, create_app
from shared.http.client_ip import TrustedProxies
from shared.http.cors import CorsPolicy
from shared.http.redirects import ADMIN_PREFIX, redirect_to
from shared.http.tls import tls_warnings
from shared.http.tls_reload import ReloadingContext, port_contexts
from shared.http.unix_socket import SocketPermission, bound_socket, remove, socket_path
from shared.metrics import Metrics
from shared.service import Infrastructure, ServiceDefinition, ServiceRuntime
from shared.storage import migrations
from shared.tracing.config import TracingConfig
from shared.tracing.spans import only_inside_a_trace
from warden.adapters import Databases, http_clients, make_bus, make_cache, make_limiter
from warden.event_loop import loop_name
from warden.services import SERVICE_NAMES, SERVICES
from warden.startup import database_step, describe, quiet_broker_driver, startup_step, where

if TYPE_CHECKING:
    from shared.tracing.setup import Tracing

log = logging.getLogger(__name__)
SHUTDOWN_GRACE_SECONDS = 10.0


class WardenProcess:
    def __init__(self, settings: Any, services: Sequence[ServiceDefinition], *, migrate: bool = False) -> None:
        self.settings = settings
        self.services = list(services)
        self._migrate = migrate
        self._databases = Databases()
        self.metrics = Metrics()  # this process's own registry: /metrics on the admin port
        self._bus = make_bus(settings, self.metrics.bus)
        self._cache = make_cache(settings)
        self._limiter = make_limiter(settings)
        self._runtimes: list[ServiceRuntime] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._runners: dict[str, web.AppRunner] = {}
        self._socket_files: list[str] = []  # the Unix sockets the ports listen on, removed at stop
        self._http: list[aiohttp.ClientSession] = []
        self._grpc: GrpcServer | None = None
        self._tracing = self._make_tracing()
        self._admin_keys = AdminKeys.from_settings(settings)
        # Before anything is opened: a certificate or key that cannot be used stops start-up here.
        self._tls = port_contexts(settings)

    def _make_tracing(self) -> Tracing | None:
        """Tracing when `tracing.provider: otel` asks for it; when off, not even its modules load."""
        names = [s.name for s in self.services]
        config = TracingConfig.from_settings(self.settings, names[0] if len(names) == 1 else None)
        if config is None:
            return None
        from shared.tracing.setup import Tracing

        return Tracing(config, names)

    @property
    def bus(self) -> Any:
        """The process's bus: external subscribers (and tests) may listen to the event stream on it."""
        return self._bus

    async def start(self) -> None:
        # First: the apps and client sessions made from here on are the instrumented ones.
        if self._tracing is not None:
            self._tracing.start()
        await self._prepare_databases()
        with startup_step("bus.url", where(self.settings.bus.url)), quiet_broker_driver():
            await self._bus.connect()
            # Every consumer's queue, this process's or not: what is published from here on waits
            # in its queue even if its consumer is not running yet.
            queues = [queue for service in SERVICES for queue in service.queues(self.settings)]
            await self._bus.declare(queues, self.settings.bus.max_deliveries)
        await self._check_cache()
        here = {s.name for s in self.services}
        weak = weak_secret_warnings(self.settings, remote_services=here != set(SERVICE_NAMES))
        for warning in [*self.settings.ignored_keys, *weak, *tls_warnings(self.settings)]:
            log.warning("config: %s", warning)
        remote = [n for n in SERVICE_NAMES if n not in here]
        clients, self._http = http_clients(self.settings, remote, admin_tls=self._tls.get("admin"))
        for definition in self.services:
            infra = Infrastructure(
                settings=self.settings,
                database=self._databases.for_dsn(self.settings.dsn_for(definition.name)),
                bus=self._bus,
                cache=self._cache,
                clients=clients,
                limiter=self._limiter,
                metrics=self.metrics,
            )
            runtime = await definition.build(infra)
            self._runtimes.append(runtime)
            setattr(clients, definition.name, runtime.internal_api)
        self.metrics.on_scrape(self.metrics.dependencies.probe([(c.name, c.check) for c in self._readiness()]))
        for runtime in self._runtimes:
            for subscription in runtime.subscriptions:
                await self._bus.subscribe(subscription)
            self._tasks += [asyncio.create_task(task(), name=f"{runtime.name}:{task}") for task in runtime.background]
        await self._open_ports()
        await self._open_grpc()
        log.info(
            "warden is serving %s",
            ", ".join(s.name for s in self.services),
            extra={"public": self.url("public"), "admin": self.url("admin"), "event_loop": loop_name()},
        )

    async def _check_cache(self) -> None:
        """A cache that cannot be reached at start is said in one line naming `cache.url`, and the
        process serves on: the cache holds nothing that is not in the database, and a process must be
        able to restart during a Redis outage (whoami reads the database until the cache answers)."""
        try:
            with only_inside_a_trace():  # a probe like /health/ready's: no trace of its own
                await self._cache.ping()
        except CacheUnavailable as exc:
            cause = describe(exc, where(self.settings.cache.url)).rstrip(".")
            log.warning("cache.url: %s; serving without the cache until it answers (whoami reads the database)", cause)

    async def _prepare_databases(self) -> None:
        for definition in self.services:
            with database_step(self.settings, definition.name), only_inside_a_trace():  # start-up: no one's
                database = self._databases.for_dsn(self.settings.dsn_for(definition.name))
                # SQLite is the embedded default: nobody runs `warden migrate` for a laptop.
                if self._migrate or database.dialect == "sqlite":
                    await migrations.upgrade(database, definition.migrations)
                else:
                    await migrations.ensure_up_to_date(database, [definition.migrations])

    def _routes(self, port: str) -> list[tuple[str, str, Any]]:
        """(method, path, a maker of the handler bound to its container) of every route on a port."""
        ports = {"public": ("public",), "admin": ("admin", "internal")}[port]
        return [
            (route.method, path, lambda r=route, rt=runtime: r.bind(rt.container))
            for definition, runtime in zip(self.services, self._runtimes)
            for route in definition.routes
            if route.port in ports
            for path in route.paths
        ]

    def _app(self, port: str) -> web.Application:
        own = self._routes(port)
        routes = [BoundRoute(method, path, build()) for method, path, build in own]
        routes += self._redirects(port, {(method, path) for method, path, _ in own})
        return create_app(
            port=port,
            routes=routes,
            readiness=self._readiness(),
            metrics=self.metrics,
            internal_token=self.settings.internal_token,
            trusted_proxies=TrustedProxies(self.settings.get("serve.public.trusted_proxies") or []),
            cors=CorsPolicy.from_settings(self.settings),
            log_health_requests=not self.settings.get(f"serve.{port}.request_log.disable_for_health", False),
            admin_hosts=frozenset({(urlsplit(self.settings.serve.admin.base_url).hostname or "").lower()} - {""}),
            admin_keys=self._admin_keys,
        )

    def _readiness(self) -> list[ReadinessCheck]:
        """What /health/ready checks, and what `warden_dependency_up` reports."""
        checks = [ReadinessCheck(f"database:{i}", db.ping) for i, db in enumerate(self._databases.all())]
        return checks + [ReadinessCheck("bus", self._bus.healthy), ReadinessCheck("cache", self._cache.healthy)]

    def _redirects(self, port: str, taken: set[tuple[str, str]]) -> list[BoundRoute]:
        """Kratos sends `/admin/…` asked on the public port to the admin port, and public paths asked
        on the admin port to the public port (307, so method and body are kept)."""
        other = "admin" if port == "public" else "public"
        handler = redirect_to(getattr(self.settings.serve, other).base_url, admin=other == "admin")
        wanted = {
            (method, path)
            for method, path, _ in self._routes(other)
            if (method, path) not in taken
            and (path.startswith(ADMIN_PREFIX + "/") if other == "admin" else not path.startswith("/internal/"))
        }
        return [BoundRoute(method, path, handler) for method, path in sorted(wanted)]

    async def _open_ports(self) -> None:
        """Each port over HTTPS when `serve.<port>.tls` gives a pair (renewed files are picked up
        while it serves: shared.http.tls_reload), else plain HTTP; on a Unix socket when
        `serve.<port>.host` is `unix:<path>` (shared.http.unix_socket), else on TCP."""
        for port in ("public", "admin"):
            runner = web.AppRunner(self._app(port), access_log=None, shutdown_timeout=SHUTDOWN_GRACE_SECONDS)
            await runner.setup()
            self._runners[port] = runner
            tls = self._tls.get(port)
            with startup_step(f"serve.{port}"):
                await self._site(runner, port, tls).start()
            if tls is not None and tls.watched:
                self._tasks.append(asyncio.create_task(tls.watch(), name=f"serve.{port}.tls:watch"))

    def _site(self, runner: web.AppRunner, port: str, tls: ReloadingContext | None) -> web.BaseSite:
        serve = getattr(self.settings.serve, port)
        context = None if tls is None else tls.listener
        path = socket_path(serve.host)
        if path is None:
            return web.TCPSite(runner, serve.host or "0.0.0.0", serve.port, ssl_context=context)
        sock = bound_socket(path, SocketPermission.from_settings(self.settings, port))
        self._socket_files.append(path)
        return web.SockSite(runner, sock, ssl_context=context)

    def internal_api(self, name: str) -> Any:
        """The in-process adapter of a service's client Protocol, once the service is built here."""
        return next(r.internal_api for r in self._runtimes if r.name == name)

    async def _open_grpc(self) -> None:
        """The gRPC port, when a service here offers gRPC (session, identity) and callers can be
        authenticated (see shared.grpc.server)."""
        services = [service for runtime in self._runtimes for service in runtime.grpc]
        if not services:
            return
        server = GrpcServer(GrpcConfig.from_settings(self.settings), services)
        if await server.start():
            self._grpc = server

    @property
    def grpc_port(self) -> int | None:
        """The port gRPC really listens on, or None when it is closed."""
        return self._grpc.port if self._grpc is not None else None

    def url(self, port: str) -> str:
        """The address a port really listens on (useful when the configured port is 0); `unix:<path>`
        for a Unix socket."""
        runner = self._runners.get(port)
        if runner is None or not runner.addresses:
            return ""
        if isinstance(runner.addresses[0], str):
            return f"unix:{runner.addresses[0]}"
        host, bound = runner.addresses[0][:2]
        scheme = "https" if port in self._tls else "http"
        return f"{scheme}://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{bound}"

    async def stop(self) -> None:
        if self._grpc is not None:
            await self._grpc.stop(SHUTDOWN_GRACE_SECONDS)
            self._grpc = None
        for runner in self._runners.values():
            await runner.cleanup()  # stops listening, then waits for requests in flight
        self._runners.clear()
        for path in self._socket_files:
            remove(path)
        self._socket_files.clear()
        await self._bus.close()  # consumers first: an unacknowledged message goes back to its queue
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for runtime in self._runtimes:
            if runtime.close is not None:
                await runtime.close()
        await self._cache.close()
        await self._limiter.close()
        for session in self._http:
            await session.close()
        self._http.clear()
        await self._databases.dispose()
        if self._tracing is not None:
            await self._tracing.stop()  # last: flushes the spans of everything above
