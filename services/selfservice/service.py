"""The self-service service's definition and composition root."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import MetaData

from services.selfservice import codes
from services.selfservice.codes import OneTimeCodes
from services.selfservice.config import SelfserviceConfig, written
from services.selfservice.events import FlowEvents
from services.selfservice.flows.browser_errors import with_browser_errors
from services.selfservice.flows.csrf import Csrf
from services.selfservice.flows.engine import FlowEngine
from services.selfservice.flows.error.handler import ROUTES as ERROR_ROUTES
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.login.handler import ROUTES as LOGIN_ROUTES
from services.selfservice.flows.logout.handler import ROUTES as LOGOUT_ROUTES
from services.selfservice.flows.persistence import FlowRepository
from services.selfservice.flows.recovery.admin import ROUTES as RECOVERY_ADMIN_ROUTES
from services.selfservice.flows.recovery.handler import ROUTES as RECOVERY_ROUTES
from services.selfservice.flows.registration.enumeration import RegistrationEnumeration, hidden_methods, login_hints
from services.selfservice.flows.registration.existing_account import ExistingAccounts
from services.selfservice.flows.registration.handler import ROUTES as REGISTRATION_ROUTES
from services.selfservice.flows.settings.handler import ROUTES as SETTINGS_ROUTES
from services.selfservice.flows.verification.after_registration import CONSUMES as REGISTRATION_VERIFICATION
from services.selfservice.flows.verification.after_registration import registration_verification
from services.selfservice.flows.verification.handler import ROUTES as VERIFICATION_ROUTES
from services.selfservice.flows.verification.proof import AddressProof
from services.selfservice.flows.verification.verifier import Verifier
from services.selfservice.hooks import HOOKS
from services.selfservice.hooks.registry import HookRegistry
from services.selfservice.hooks.web_hook_calls import WebHooks
from services.selfservice.send_budget import SendBudget
from services.selfservice.strategies import METHODS
from services.selfservice.strategies.identifier_first.strategy import METHOD as IDENTIFIER_FIRST
from services.selfservice.strategies.identifier_first.strategy import IdentifierFirstStrategy
from services.selfservice.strategies.profile.registration import PROFILE_FIRST, ProfileFirstRegistration
from services.selfservice.strategies.registry import Dependencies, Methods, MethodSpec
from services.selfservice.tables import selfservice_tables
from services.selfservice.traits import TraitSchemas
from services.selfservice.ui.brand import Brand
from services.selfservice.ui.handler import ROUTES as UI_ROUTES
from services.selfservice.ui.pages import Pages
from shared.cookies import CookieConfig, session_cookie_signer
from shared.errors import ConfigError
from shared.http.egress import Egress, EgressPolicy
from shared.jsonnet_sandbox import JsonnetSandbox
from shared.kdf import hashing_pool
from shared.ratelimit.limits import ClientLimits
from shared.service import Infrastructure, ServiceDefinition, ServiceRuntime
from shared.service_kit import ServiceInfo, info_route, service_core
from shared.storage.database import Database
from shared.storage.migrations import MigrationSet
from shared.storage.uow import UnitOfWorkFactory
from shared.units import parse_duration

NAME = "selfservice"
# Backup codes are checked here (the identity service seals them, on its password hashing threads):
# one argon2 run per check, at the stored set's parameters. Checks are rare (a code is for a lost
# authenticator) and throttled per identity, so two threads bound the memory they take (2 x m) and
# leave the cores to everything else; a burst waits its turn on them.
CODE_CHECK_THREADS = 2


@dataclass(frozen=True)
class AddressFlows:
    """What verification and recovery flows are made with (and the verifier other flows use)."""

    config: SelfserviceConfig
    engine: FlowEngine
    address_strategies: dict[str, Any]  # by flow kind: the method `selfservice.flows.<kind>.use` names
    proof: AddressProof


@dataclass(frozen=True)
class SelfserviceContainer:
    settings: Any
    config: SelfserviceConfig
    uow: UnitOfWorkFactory
    flows: FlowRepository
    engine: FlowEngine
    events: FlowEvents
    hooks: HookRegistry
    methods: Methods
    address_strategies: dict[str, Any]
    proof: AddressProof
    verifier: Verifier
    enumeration: RegistrationEnumeration  # whether registration hides existing accounts (EN-4)
    pages: Pages  # the built-in UI's templates
    schemas: TraitSchemas  # which flows may use (`?identity_schema=`); trait titles for the welcome page
    internal: ServiceInfo


def _client(infra: Infrastructure, name: str) -> Any:
    client = getattr(infra.clients, name)
    if client is None:
        raise ConfigError(
            f"config: services.{name}.internal_url: the selfservice service needs to reach the {name} service"
        )
    return client


def _pepper(settings: Any, config: SelfserviceConfig) -> str:
    """The key of the codes' HMACs; required by whatever sends codes."""
    keys = settings.secrets.default or settings.secrets.cookie
    users = [f"the {k} flow" for k in ("verification", "recovery") if config.flows[k].enabled]
    if settings.get("selfservice.methods.code.passwordless_enabled"):
        users.append("passwordless login by code")
    if config.method_enabled("lookup_secret"):
        users.append("backup recovery codes (selfservice.methods.lookup_secret)")
    if users and not keys:
        raise ConfigError(
            f"config: secrets.default: {' and '.join(users)} need a secret to protect "
            "their codes at rest (secrets.default or secrets.cookie)"
        )
    return str((keys or [""])[0])  # unused when nothing sends codes


def _proof(
    settings: Any,
    config: SelfserviceConfig,
    uow: UnitOfWorkFactory,
    flows: FlowRepository,
    identities: Any,
    budget: SendBudget,
) -> AddressProof:
    pepper = _pepper(settings, config)
    code_lifespan = written(settings, "selfservice.methods.code.config.lifespan")
    lifespans = {
        # Kratos's schema says 1h; Warden's default is 15 minutes by email and 10 by SMS (recovery by a
        # chosen address) unless the config says otherwise (DESIGN §9).
        "code": parse_duration(code_lifespan or "15m"),
        "code/sms": parse_duration(code_lifespan or "10m"),
        "link": parse_duration(written(settings, "selfservice.methods.link.config.lifespan") or "15m"),
    }
    notify = {
        k: bool(settings.get(f"selfservice.flows.{k}.notify_unknown_recipients")) for k in ("verification", "recovery")
    }
    return AddressProof(uow, flows, OneTimeCodes(flows.t.codes, pepper), identities, lifespans, notify, budget)


def _two_step_forms(methods: Methods, deps: Dependencies) -> None:
    """`identifier_first` login and `profile_first` registration are flow styles, not methods: each
    leads to the enabled methods of its flow, so it is built from them and goes first."""
    if deps.config.flows["registration"].style == PROFILE_FIRST:
        methods.registration.insert(0, ProfileFirstRegistration(deps.identities, deps.schemas, methods.registration))
    if deps.config.flows["login"].style == IDENTIFIER_FIRST:
        mitigate = bool(deps.settings.get("security.account_enumeration.mitigate"))
        methods.login.insert(
            0, IdentifierFirstStrategy(deps.identities, deps.schemas, methods.login, mitigate=mitigate)
        )


async def build(
    infra: Infrastructure, method_specs: Sequence[MethodSpec] = METHODS
) -> ServiceRuntime[SelfserviceContainer]:
    core = service_core(NAME, infra)
    settings = infra.settings
    config = SelfserviceConfig.from_settings(settings)
    identities, sessions = _client(infra, "identity"), _client(infra, "session")
    schemas = TraitSchemas.from_settings(settings)
    egress = Egress(EgressPolicy.from_settings(settings))
    # Where the Jsonnet that sees what users sent runs (web hook bodies, social sign-in mappers).
    sandbox = JsonnetSandbox()
    try:
        web_hooks = await WebHooks.load(settings, egress, sandbox)
    except BaseException:
        await egress.close()
        raise
    flows = FlowRepository(selfservice_tables(MetaData()))
    # One set of per-client windows: the flow engine counts submissions and recovery and
    # verification messages on them, the code method its own messages (`code_send`).
    limits = ClientLimits.from_settings(
        settings, infra.limiter, infra.metrics.throttling.throttle_blocks.labels("client_ip").inc
    )
    deps = Dependencies(
        settings,
        config,
        identities,
        sessions,
        schemas,
        web_hooks,
        core.uow,
        flows,
        _pepper(settings, config),
        SendBudget(infra.limiter),
        limits,
        hashing_pool(CODE_CHECK_THREADS, "warden-code-checks"),
        sandbox,
    )
    cookie = CookieConfig.session_cookie(settings)
    general = CookieConfig.general(settings, "csrf_token")
    csrf = Csrf(
        config.public_base_url,
        secure=general.secure,
        same_site=general.same_site,
        path=general.path,
        domain=general.domain,
    )
    hooks, events = HookRegistry(HOOKS, deps, config), FlowEvents(core.uow, flows)

    async def before(request: web.Request, flow: Flow) -> None:
        await events.requested(await hooks.before_flow(request, flow))

    signer = session_cookie_signer(settings)
    engine = FlowEngine(
        config, core.uow, flows, csrf, sessions, identities, cookie, signer, limits, infra.metrics.flows, before
    )
    methods = Methods(method_specs, deps)
    _two_step_forms(methods, deps)
    address_strategies = {
        kind: method for kind in ("verification", "recovery") if (method := methods.address_method(kind)) is not None
    }
    proof = _proof(settings, config, core.uow, flows, identities, deps.send_budget)
    verifier = Verifier(AddressFlows(config, engine, address_strategies, proof))
    accounts = ExistingAccounts(identities, core.uow, deps.send_budget)
    enumeration = RegistrationEnumeration(
        accounts,
        hidden_methods(settings, config, web_hooks, schemas, (m.method for m in methods.registration)),
        hints=login_hints(settings, accounts),
    )
    container = SelfserviceContainer(
        settings=settings,
        config=config,
        uow=core.uow,
        flows=flows,
        engine=engine,
        events=events,
        hooks=hooks,
        methods=methods,
        address_strategies=address_strategies,
        proof=proof,
        verifier=verifier,
        enumeration=enumeration,
        pages=Pages(Brand.from_settings(settings)),
        schemas=schemas,
        internal=ServiceInfo(NAME),
    )
    mails = registration_verification(verifier, identities, settings.bus.max_deliveries)

    async def close() -> None:
        deps.hashing.shutdown(wait=False, cancel_futures=True)
        await sandbox.close()
        await egress.close()

    return ServiceRuntime(
        NAME,
        container,
        subscriptions=[mails],
        background=[core.relay.run],
        internal_api=container.internal,
        close=close,
    )


# How long a self-service error is kept: the error UI shows it right after the failure that stored it.
ERROR_RETENTION = timedelta(days=7)


async def delete_expired_flows(database: Database, batch: int, expired_before: datetime) -> int:
    flows = FlowRepository(selfservice_tables(MetaData()))
    async with database.transaction() as conn:
        return await flows.delete_expired_flows(conn, expired_before, batch)


async def delete_expired_codes(database: Database, batch: int, expired_before: datetime) -> int:
    """One-time codes past their expiry, once their flow has expired too (codes.delete_expired says
    why): each holds the address it was sent to."""
    tables = selfservice_tables(MetaData())
    async with database.transaction() as conn:
        return await codes.delete_expired(conn, tables.codes, tables.flows, expired_before, batch)


async def delete_old_errors(database: Database, batch: int, expired_before: datetime) -> int:
    """Errors older than ERROR_RETENTION: their lifetime ends then."""
    flows = FlowRepository(selfservice_tables(MetaData()))
    async with database.transaction() as conn:
        return await flows.delete_errors_created_before(conn, expired_before - ERROR_RETENTION, batch)


def selfservice_definition(method_specs: Sequence[MethodSpec] = METHODS) -> ServiceDefinition[SelfserviceContainer]:
    """The service with these methods (Kratos's list unless a test brings its own): their routes join
    the flows' in the route table, from which the process, nginx and the Ingress all read."""

    async def build_with_methods(infra: Infrastructure) -> ServiceRuntime[SelfserviceContainer]:
        return await build(infra, method_specs)

    return ServiceDefinition(
        name=NAME,
        migrations=MigrationSet(NAME, Path(__file__).parent / "migrations"),
        routes=[
            *map(
                with_browser_errors,
                [
                    *LOGIN_ROUTES,
                    *REGISTRATION_ROUTES,
                    *LOGOUT_ROUTES,
                    *SETTINGS_ROUTES,
                    *RECOVERY_ROUTES,
                    *VERIFICATION_ROUTES,
                ],
            ),
            *ERROR_ROUTES,
            *RECOVERY_ADMIN_ROUTES,
            info_route(NAME),
            *UI_ROUTES,
            *(route for spec in method_specs for route in spec.routes),
        ],
        build=build_with_methods,
        depends_on=("identity", "session"),
        cleanup=lambda _settings: (delete_expired_flows, delete_expired_codes, delete_old_errors),
        queues=lambda _settings: [REGISTRATION_VERIFICATION],
    )


DEFINITION = selfservice_definition()
