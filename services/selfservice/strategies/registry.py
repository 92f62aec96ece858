"""What a self-service method is to the service (Kratos's `driver/registry_default.go`, without the
1,000 lines): a `MethodSpec` says what the method is called, which UI node group and credential type
it owns, which routes it adds and how it is built; `Methods` holds the built ones and sorts them into
the flows they join by the `@runtime_checkable` Protocol each flow declares in its `strategy.py`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from aiohttp import web

from services.selfservice.config import SelfserviceConfig
from services.selfservice.flows.login.strategy import LoginStrategy
from services.selfservice.flows.persistence import FlowRepository
from services.selfservice.flows.recovery.strategy import RecoveryStrategy
from services.selfservice.flows.registration.strategy import RegistrationStrategy
from services.selfservice.flows.settings.strategy import SettingsStrategy
from services.selfservice.flows.verification.strategy import VerificationStrategy
from services.selfservice.hooks.web_hook_calls import WebHooks
from services.selfservice.send_budget import SendBudget
from services.selfservice.traits import TraitSchemas
from shared.clients.ports import IdentityClient, SessionClient
from shared.errors import ConfigError, NotFound
from shared.jsonnet_sandbox import JsonnetSandbox
from shared.ratelimit.limits import ClientLimits
from shared.service import Port, Route
from shared.storage.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class Dependencies:
    """What methods and hooks are built from: nothing that is itself built from the methods."""

    settings: Any  # shared.config.Settings
    config: SelfserviceConfig
    identities: IdentityClient
    sessions: SessionClient
    schemas: TraitSchemas
    web_hooks: WebHooks
    uow: UnitOfWorkFactory
    flows: FlowRepository
    pepper: str  # the key of the one-time codes' HMACs
    send_budget: SendBudget  # how many messages one address may be sent
    client_limits: ClientLimits  # the per-client windows the flow engine counts on (`code_send`)
    hashing: Executor  # the threads backup codes are checked on, below the event loop (shared.kdf)
    sandbox: JsonnetSandbox  # where Jsonnet that sees what users sent runs (mappers, web hook bodies)


@dataclass(frozen=True)
class MethodSpec:
    id: str  # the `method` of a submission and the key under `selfservice.methods`
    node_group: str  # the `group` of the UI nodes the method adds
    credential_type: str | None  # the identity credential the method owns, if any
    build: Callable[[Dependencies], object]
    enabled_by_default: bool  # Kratos's default for `selfservice.methods.<id>.enabled`
    routes: Sequence[Route[Any]] = field(default_factory=tuple)  # served only while the method is enabled


class Methods:
    """The enabled methods, built, in the list's order."""

    def __init__(self, specs: Sequence[MethodSpec], deps: Dependencies) -> None:
        self._deps = deps
        self.specs = tuple(s for s in specs if deps.config.method_enabled(s.id, s.enabled_by_default))
        self._built: dict[str, object] = {s.id: s.build(deps) for s in self.specs}
        built = list(self._built.values())
        self.login = [m for m in built if isinstance(m, LoginStrategy)]
        self.registration = [m for m in built if isinstance(m, RegistrationStrategy)]
        self.settings = [m for m in built if isinstance(m, SettingsStrategy)]
        self.recovery = {m.method: m for m in built if isinstance(m, RecoveryStrategy)}
        self.verification = {m.method: m for m in built if isinstance(m, VerificationStrategy)}

    def get(self, method_id: str) -> object | None:
        return self._built.get(method_id)

    def address_method(self, kind: str) -> RecoveryStrategy | VerificationStrategy | None:
        """The method `selfservice.flows.<kind>.use` names (Kratos's default: code); None while the flow
        is off. A flow that is on but names a method that is off stops the start, as in Kratos."""
        if not self._deps.config.flows[kind].enabled:
            return None
        use = self._deps.settings.get(f"selfservice.flows.{kind}.use") or "code"
        found = (self.recovery if kind == "recovery" else self.verification).get(use)
        if found is None:
            raise ConfigError(
                f"config: selfservice.flows.{kind}.use: the {use} method is not enabled "
                f"(selfservice.methods.{use}.enabled)"
            )
        return found


class HasMethods(Protocol):
    @property
    def methods(self) -> Methods: ...


M = TypeVar("M")
MethodHandler = Callable[[M, web.Request], Awaitable[web.StreamResponse]]


def method_route(
    port: Port, verb: str, path: str, method_id: str, kind: type[M], handle: MethodHandler[M]
) -> Route[HasMethods]:
    """A route a method adds: in the route table (hence nginx and the Ingress) whether or not the
    method is enabled, answering 404 while it is not. The handler is given the built method."""

    async def handler(c: HasMethods, request: web.Request) -> web.StreamResponse:
        method = c.methods.get(method_id)
        if not isinstance(method, kind):
            raise NotFound()
        return await handle(method, request)

    return Route(port, verb, path, handler)
