"""`warden backup-codes seal`: puts under the KDF every set of backup codes still stored as plain
keyed hashes (or in clear), without their codes (shared.backup_codes).

A set is otherwise sealed when its owner next uses it (`IdentityManager.get_credential`), and most
owners never do: their codes would stay as fast HMACs, which whoever holds the database and the
server's secret grinds in hours. This seals them all, in batches, while Warden serves: each set is a
compare-and-set (a code spent meanwhile wins, and the set is sealed at the next run or use) with an
`identity.updated` event in the same commit, as any credential change. It runs once every
self-service process knows the KDF (README "Upgrades"): an older one cannot check a sealed set.
Idempotent; a run stopped part-way, or one that reports sets changed while it sealed them, is
simply run again.

Cost: twelve argon2id runs at 19 MiB a set (some 0.4 s of CPU), on this process's own hashing
threads, so the serving processes' are not taken."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData

from services.identity.credentials import Sealing
from services.identity.errors import IdentityNotFound
from services.identity.hashing import Hasher, hasher_config_from
from services.identity.manager import IdentityManager
from services.identity.persistence import IdentityRepository
from services.identity.schemas import SchemaRegistry
from services.identity.service import NAME, sealing_for
from services.identity.tables import identity_tables
from shared.backup_codes import CodeHasher
from shared.bus.outbox import Outbox
from shared.cipher import cipher_from_settings
from shared.errors import ConfigError
from shared.storage.database import Database
from shared.storage.tables import outbox_table
from shared.storage.uow import UnitOfWorkFactory


@dataclass
class SealReport:
    sealed: int = 0
    changed: int = 0  # spent or replaced while being sealed: the next run (or use) seals them
    gone: int = 0  # deleted meanwhile


async def seal_stored_sets(
    settings: Any, database: Database, batch: int, progress: Callable[[SealReport], None] = lambda _: None
) -> SealReport:
    """Every set that needs it sealed, however long the hashing threads take (the serving
    processes' sealing on read gives up after 1.5 s; this does not). ConfigError when sets need
    sealing and no secret is configured to key them with."""
    hasher = Hasher(hasher_config_from(settings.get("hashers"), dev=settings.dev))
    try:
        sealing = sealing_for(settings, hasher, cipher_from_settings(settings))
        repository = IdentityRepository(identity_tables(MetaData()))
        uow = UnitOfWorkFactory(database, Outbox(outbox_table(MetaData(), NAME)), NAME)
        manager = IdentityManager(uow, repository, SchemaRegistry.from_settings(settings), sealing)
        report, after = SealReport(), ""
        while True:
            async with uow.read() as conn:
                page = await repository.backup_code_sets(conn, after, batch)
            if not page:
                return report
            for identity_id, stored in page:
                if CodeHasher.needs_sealing(stored):
                    _require_a_secret(sealing)
                    await _seal(manager, identity_id, report)
            after = page[-1][0]
            progress(report)
    finally:
        hasher.close()


def _require_a_secret(sealing: Sealing) -> None:
    if sealing.backup_codes is None:
        raise ConfigError(
            "config: secrets.default: backup codes are stored that need a secret to be sealed with "
            "(secrets.default or secrets.cookie, the one they were keyed with)"
        )


async def _seal(manager: IdentityManager, identity_id: str, report: SealReport) -> None:
    try:
        credential = await manager.seal_backup_codes(identity_id)
    except IdentityNotFound:
        report.gone += 1
        return
    if credential is None:
        report.changed += 1
    elif "kdf" in credential.config:
        report.sealed += 1
