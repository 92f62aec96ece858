"""The session service's definition and composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import MetaData

from services.session.api import admin, public
from services.session.cache import SessionCache
from services.session.cache_drops import CacheDrops
from services.session.cache_generation import CacheGenerations
from services.session.check import SessionChecker
from services.session.config import SessionConfig
from services.session.consumers import CONSUMES as IDENTITY_CHANGES
from services.session.consumers import identity_changes
from services.session.grpc.envoy_api import SERVICE_NAME as ENVOY_GRPC
from services.session.grpc.envoy_api import EnvoyAuthorization, envoy_service
from services.session.grpc.session_api import SERVICE_NAME as SESSION_GRPC
from services.session.grpc.session_api import SessionApi, session_service
from services.session.internal import ROUTES as INTERNAL_ROUTES
from services.session.internal import SessionInternalApi
from services.session.manager import SessionManager
from services.session.persistence import SessionRepository
from services.session.revocations import RevocationFeed
from services.session.tables import session_tables
from services.session.tokenizer import Tokenizer
from shared.clients.ports import IdentityClient
from shared.cookies import CookieSigner, session_cookie_signer
from shared.errors import ConfigError
from shared.jsonnet_sandbox import JsonnetSandbox
from shared.page_tokens import PageTokens
from shared.service import Infrastructure, ServiceDefinition, ServiceRuntime
from shared.service_kit import info_route, service_core
from shared.storage.database import Database
from shared.storage.migrations import MigrationSet
from shared.storage.uow import UnitOfWorkFactory

NAME = "session"


@dataclass(frozen=True)
class SessionContainer:
    uow: UnitOfWorkFactory
    config: SessionConfig
    manager: SessionManager
    identities: IdentityClient
    cookie_signer: CookieSigner | None
    internal: SessionInternalApi
    checker: SessionChecker
    tokenizer: Tokenizer
    page_tokens: PageTokens


async def build(infra: Infrastructure) -> ServiceRuntime[SessionContainer]:
    core = service_core(NAME, infra)
    identities = infra.clients.identity
    if identities is None:
        raise ConfigError(
            "config: services.identity.internal_url: the session service needs to reach the identity service"
        )
    config = SessionConfig.from_settings(infra.settings)
    tables = session_tables(MetaData())
    generations = CacheGenerations(core.uow, tables.cache_generation)
    # A cache in this process's memory: other processes on this database (replicas) must hear of its drops.
    drops = CacheDrops(core.uow, tables.cache_drops) if infra.settings.cache.url == "memory" else None
    session_cache = SessionCache(infra.cache, config.cache_ttl_seconds, generations, infra.metrics.cache, drops)
    await session_cache.start()
    manager = SessionManager(core.uow, SessionRepository(tables), session_cache, identities, config)
    internal = SessionInternalApi(manager)
    checker = SessionChecker(manager, dict(config.check_headers))
    signer = session_cookie_signer(infra.settings)
    # Where whoami's claims mappers run (they read the user's traits); no worker until the first.
    sandbox = JsonnetSandbox()
    tokenizer = Tokenizer.from_settings(infra.settings, sandbox)
    page_tokens = PageTokens.from_settings(infra.settings)
    container = SessionContainer(
        core.uow, config, manager, identities, signer, internal, checker, tokenizer, page_tokens
    )
    subscription = identity_changes(manager, core.uow, core.processed_events, infra.settings.bus.max_deliveries)
    feed = RevocationFeed()
    grpc = [
        session_service(SessionApi(checker, feed, config.cookie, signer), feed),
        envoy_service(EnvoyAuthorization(checker, config.cookie, signer)),
    ]
    background: list[Callable[[], Awaitable[None]]] = [core.relay.run, session_cache.run_repairs]
    return ServiceRuntime(
        NAME,
        container,
        subscriptions=[subscription, feed.subscription()],
        background=background,
        internal_api=internal,
        grpc=grpc,
        close=sandbox.close,
    )


async def delete_expired_sessions(database: Database, batch: int, expired_before: datetime) -> int:
    """Sessions past their expiry: nothing can use them any more."""
    async with database.transaction() as conn:
        return await SessionRepository(session_tables(MetaData())).delete_expired(conn, expired_before, batch)


DEFINITION = ServiceDefinition(
    name=NAME,
    migrations=MigrationSet(NAME, Path(__file__).parent / "migrations"),
    routes=[*public.ROUTES, *admin.ROUTES, info_route(NAME), *INTERNAL_ROUTES],
    build=build,
    depends_on=("identity",),
    queues=lambda _settings: [IDENTITY_CHANGES],
    grpc_services=(SESSION_GRPC, ENVOY_GRPC),
    cleanup=lambda _settings: (delete_expired_sessions,),
)
