"""The identity service's definition and composition root."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData

from services.identity.api import admin, schemas
from services.identity.credentials import Sealing
from services.identity.grpc_api import SERVICE_NAME as IDENTITY_GRPC
from services.identity.grpc_api import IdentityApi, identity_service
from services.identity.hashing import Hasher, hasher_config_from, validate_imported_hash
from services.identity.hashing.hasher import default_workers
from services.identity.hashing.queue import HashingQueue
from services.identity.internal import ROUTES as INTERNAL_ROUTES
from services.identity.internal import IdentityInternalApi
from services.identity.manager import IdentityManager
from services.identity.password_migration import MigrationHookConfig, PasswordMigrationHook
from services.identity.passwords import PasswordVerifier, new_dummy_password
from services.identity.persistence import IdentityRepository
from services.identity.schemas import SchemaRegistry
from services.identity.session_notice import SessionNotice
from services.identity.tables import identity_tables
from services.identity.throttle import LoginThrottle, ThrottlePolicy, forget_stale, throttle_table
from shared import first_factors
from shared.backup_codes import CodeHasher, peppers_from
from shared.cipher import Cipher, cipher_from_settings
from shared.errors import ConfigError
from shared.jsonnet_sandbox import JsonnetSandbox
from shared.kdf import OWASP_MINIMUM, Argon2idKdf
from shared.page_tokens import PageTokens
from shared.service import Cleanup, Infrastructure, ServiceDefinition, ServiceRuntime
from shared.service_kit import info_route, service_core
from shared.storage.database import Database
from shared.storage.migrations import MigrationSet
from shared.storage.uow import UnitOfWorkFactory

# Backup codes are sealed with OWASP's minimum for argon2id (19 MiB, t=2, p=1), whatever passwords are
# hashed with. A code is 41 bits behind the server's secret: at some 20 ms a guess, whoever holds the
# database and the secret needs about 2 million core-years for one set. The password parameters
# (128 MiB by default) would buy nothing more and cost twelve of their hashes each time a set is
# sealed (4 s of CPU at the default), which a settings confirm waits for within the internal call's
# timeout. The parameters are stored with each set, so they may change later.
BACKUP_CODE_PARAMS = OWASP_MINIMUM
NAME = "identity"


@dataclass(frozen=True)
class IdentityContainer:
    uow: UnitOfWorkFactory
    schemas: SchemaRegistry
    manager: IdentityManager
    internal: IdentityInternalApi
    cipher: Cipher  # decrypts social sign-in tokens for include_credential=oidc
    page_tokens: PageTokens


async def build(infra: Infrastructure) -> ServiceRuntime[IdentityContainer]:
    core = service_core(NAME, infra)
    settings: Any = infra.settings
    registry = SchemaRegistry.from_settings(settings)
    hasher = Hasher(hasher_config_from(settings.get("hashers"), dev=settings.dev))
    tables = identity_tables(MetaData())
    repository = IdentityRepository(tables)
    cipher = cipher_from_settings(settings)
    ways_in = first_factors.enabled(settings)
    if settings.get("selfservice.methods.lookup_secret.enabled") and not peppers_from(settings):
        # Self-service refuses to start so too; this process seals imported backup codes with that key.
        raise ConfigError(
            "config: secrets.default: backup recovery codes (selfservice.methods.lookup_secret) need a "
            "secret to protect them at rest (secrets.default or secrets.cookie)"
        )
    sealing = sealing_for(settings, hasher, cipher)
    hook_on = MigrationHookConfig.from_settings(settings) is not None  # migrate_hook is enabled
    notice = SessionNotice(infra.clients)
    manager = IdentityManager(core.uow, repository, registry, sealing, ways_in, notice, migration_hook=hook_on)
    dummy = await hasher.hash(new_dummy_password())
    policy = ThrottlePolicy.from_settings(settings)
    throttle = LoginThrottle(core.uow, throttle_table(MetaData()), tables.identifiers, policy)
    queue = HashingQueue(default_workers(hasher.config), infra.metrics.throttling)
    # Where the migration hook's body is evaluated (its `ctx` is what a user typed); no worker until then.
    sandbox = JsonnetSandbox()
    migration = PasswordMigrationHook.from_settings(settings, sandbox)  # None unless migrate_hook is enabled
    passwords = PasswordVerifier(manager, hasher, dummy, throttle, queue, infra.metrics.throttling, migration)
    internal = IdentityInternalApi(manager, passwords, registry.schema_url)
    page_tokens = PageTokens.from_settings(settings)
    container = IdentityContainer(core.uow, registry, manager, internal, cipher, page_tokens)

    async def close() -> None:
        hasher.close()
        try:
            await sandbox.close()
        finally:
            if migration is not None:
                await migration.close()

    grpc = [identity_service(IdentityApi(manager, registry.schema_url, page_tokens))]
    return ServiceRuntime(NAME, container, background=[core.relay.run], internal_api=internal, close=close, grpc=grpc)


def sealing_for(settings: Any, hasher: Hasher, cipher: Cipher) -> Sealing:
    """What turns given secrets into stored ones (services.identity.credentials.Sealing): backup codes
    are sealed on the password hashing threads, keyed with the server's secret when there is one."""
    peppers = peppers_from(settings)
    codes = CodeHasher(peppers, Argon2idKdf(hasher.executor), BACKUP_CODE_PARAMS) if peppers else None
    return Sealing(hasher, validate_imported_hash, cipher, codes)


def cleanup(settings: Any) -> list[Cleanup]:
    """`warden cleanup`'s steps: the password throttle's counts once forgotten, by the policy the
    servers apply (`rate_limits.password_checks`)."""
    policy = ThrottlePolicy.from_settings(settings)

    async def forget_throttle_counts(database: Database, batch: int, expired_before: datetime) -> int:
        async with database.transaction() as conn:
            return await forget_stale(conn, throttle_table(MetaData()), policy, expired_before.timestamp(), batch)

    return [forget_throttle_counts]


DEFINITION = ServiceDefinition(
    name=NAME,
    migrations=MigrationSet(NAME, Path(__file__).parent / "migrations"),
    routes=[*schemas.ROUTES, *admin.ROUTES, info_route(NAME), *INTERNAL_ROUTES],
    build=build,
    grpc_services=(IDENTITY_GRPC,),
    cleanup=cleanup,
)
