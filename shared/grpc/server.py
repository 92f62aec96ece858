"""The gRPC port of a Warden process (`serve.grpc`, 4435 by default): the gRPC services of the
services it runs (session, identity, Envoy's ext_authz), with `grpc.health.v1` and reflection, on
grpcio's asyncio server.

Never open: every call but a health check must present `services.internal_token` (metadata
`authorization: Bearer …` or `x-warden-internal-token`), or, with `serve.grpc.auth: mtls`, the TLS
handshake must present a client certificate signed by `serve.grpc.tls.client_ca`. With neither
configured the port stays closed and the process says why. Health stays open so that load balancers
can probe it; it says SERVING or NOT_SERVING and nothing else.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from shared.errors import ConfigError
from shared.grpc.shield import ErrorShield

log = logging.getLogger(__name__)
# The one call a caller without the token may make: the probes of Kubernetes, grpc-health-probe and
# Envoy ask `Check`. `Watch` is a stream each caller holds open, so an open one would let anyone who
# reaches the port pin server resources: it needs the token like everything else.
OPEN_METHOD = "/grpc.health.v1.Health/Check"
# What a caller's metadata may weigh: a session cookie and a token fit with room to spare. More is
# refused as INVALID_ARGUMENT by Warden; far more (past CORE_METADATA_LIMIT) by grpc itself.
MAX_METADATA_BYTES = 8 * 1024
CORE_METADATA_LIMIT = 64 * 1024
MAX_MESSAGE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class GrpcService:
    """One gRPC service a Warden service offers: its full name (for health and reflection) and how to
    add its servicer to a server."""

    name: str
    add_to: Callable[[grpc.aio.Server], None]
    # Ends the service's long-lived streams when the server stops, so that stopping need not wait.
    on_stop: Callable[[], None] | None = None


@dataclass(frozen=True)
class GrpcConfig:
    host: str
    port: int
    auth: str  # "internal_token" or "mtls"
    token: str
    cert: str | None = None
    key: str | None = None
    client_ca: str | None = None
    configured: bool = False  # serve.grpc is in the config: someone expects the port open

    @classmethod
    def from_settings(cls, settings: Any) -> GrpcConfig:
        get = settings.get
        return cls(
            host=get("serve.grpc.host", "") or "",
            port=int(get("serve.grpc.port", 4435)),
            auth=get("serve.grpc.auth", "internal_token") or "internal_token",
            token=settings.internal_token,
            cert=get("serve.grpc.tls.cert"),
            key=get("serve.grpc.tls.key"),
            client_ca=get("serve.grpc.tls.client_ca"),
            configured="grpc" in (settings.raw.get("serve") or {}),
        )

    def closed_because(self) -> str | None:
        """Why the port must stay closed, or None when callers can be authenticated."""
        if self.auth == "internal_token" and not self.token:
            return "serve.grpc.auth is internal_token but services.internal_token is empty"
        return None

    def credentials(self) -> grpc.ServerCredentials | None:
        if self.auth == "mtls" and not (self.cert and self.key and self.client_ca):
            raise ConfigError("config: serve.grpc.tls: mtls needs cert, key and client_ca")
        if not (self.cert and self.key):
            return None
        pair = [(_read(self.key, "key"), _read(self.cert, "cert"))]
        if self.client_ca:
            return grpc.ssl_server_credentials(pair, _read(self.client_ca, "client_ca"), require_client_auth=True)
        return grpc.ssl_server_credentials(pair)


def _read(path: str, key: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"config: serve.grpc.tls.{key}: cannot read {path}: {exc.strerror}") from exc


class GrpcServer:
    def __init__(self, config: GrpcConfig, services: Sequence[GrpcService]) -> None:
        self._config = config
        self._services = list(services)
        self._server: grpc.aio.Server | None = None
        self._health = health.aio.HealthServicer()
        self.port = 0

    async def start(self) -> bool:
        """Opens the port; False (and a log line) when the config leaves it closed."""
        reason = self._config.closed_because()
        if reason:
            # The development default has no internal token: a closed port is expected there.
            log.log(
                logging.WARNING if self._config.configured else logging.INFO, "the gRPC port stays closed: %s", reason
            )
            return False
        guard = [] if self._config.auth == "mtls" else [TokenGuard(self._config.token)]
        server = grpc.aio.server(
            interceptors=[MetadataLimit(), *guard, ErrorShield()],
            options=[
                ("grpc.max_metadata_size", CORE_METADATA_LIMIT),
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.so_reuseport", 0),
            ],
        )
        for service in self._services:
            service.add_to(server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        names = [s.name for s in self._services]
        reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
        address = f"{self._config.host or '0.0.0.0'}:{self._config.port}"
        credentials = self._config.credentials()
        if credentials is None:
            self.port = server.add_insecure_port(address)
        else:
            self.port = server.add_secure_port(address, credentials)
        await server.start()
        for name in ["", *names]:
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._server = server
        return True

    async def stop(self, grace: float) -> None:
        if self._server is None:
            return
        await self._health.enter_graceful_shutdown()  # probes see NOT_SERVING while calls finish
        for service in self._services:
            if service.on_stop is not None:
                service.on_stop()
        await self._server.stop(grace)
        self._server = None


Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]]


class MetadataLimit(grpc.aio.ServerInterceptor):
    async def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        size = sum(len(key) + len(value) for key, value in details.invocation_metadata or ())
        if size > MAX_METADATA_BYTES:
            return refusal(await continuation(details), grpc.StatusCode.INVALID_ARGUMENT, "metadata too large")
        return await continuation(details)


class TokenGuard(grpc.aio.ServerInterceptor):
    """Every call but the health check needs the internal token; compared in constant time."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    async def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        if details.method == OPEN_METHOD or self._presented(details):
            return await continuation(details)
        return refusal(await continuation(details), grpc.StatusCode.PERMISSION_DENIED, "the internal token is required")

    def _presented(self, details: grpc.HandlerCallDetails) -> bool:
        for key, value in details.invocation_metadata or ():
            if isinstance(value, bytes):
                continue
            if key == "authorization" and value[:7].lower() == "bearer ":
                value = value[7:].strip()
            elif key != "x-warden-internal-token":
                continue
            if hmac.compare_digest(value.encode(), self._token):
                return True
        return False


def refusal(handler: grpc.RpcMethodHandler | None, code: grpc.StatusCode, details: str) -> grpc.RpcMethodHandler | None:
    """A handler of the same shape as the refused one that ends the call with `code`."""
    if handler is None:
        return None  # an unknown method: grpc answers UNIMPLEMENTED itself

    async def unary(_request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(code, details)

    async def stream(_request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(code, details)
        yield  # pragma: no cover (makes this an async generator)

    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(unary)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(stream)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(unary)
    return grpc.stream_stream_rpc_method_handler(stream)
