"""`warden backup-codes seal`: puts under the KDF every set of backup codes still stored as plain
keyed hashes (or in clear), without their codes (shared.backup_codes).

A set is otherwise sealed when its owner next uses it (`IdentityManager.get_credential`), and most
owners never do: their codes would stay as fast HMACs, which whoever holds the database and the
server's secret grinds in hours. This seals them all, in batches, while Warden serves: each set is a
compare-and-set (a code spent meanwhile wins, and the set is sealed at the next run or use) with an
`identity.updated` event in the same commit, as any credential change. It runs once every
self-service process knows the KDF (README "Upgrades"): an older one cannot check a sealed set.
Idempotent; a run stopped part-way is simply run again.

Cost: twelve argon2id runs at 19 MiB a set (some 0.4 s of CPU), on this process's own hashing
threads, so the serving processes' are not taken."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData

from services.identity.domain import CredentialType
from services.identity.errors import IdentityNotFound
from services.identity.hashing import Hasher, hasher_config_from
from services.identity.manager import IdentityManager
from services.identity.persistence import IdentityRepository
from services.identity.schemas import SchemaRegistry
from services.identity.service import NAME, sealing_for
from services.identity.tables import identity_tables
from shared.bus.outbox import Outbox
from shared.cipher import cipher_from_settings
from shared.storage.database import Database
from shared.storage.tables import outbox_table
from shared.storage.uow import UnitOfWorkFactory


@dataclass
class SealReport:
    sealed: int = 0
    left: int = 0  # spent or changed meanwhile, or gone: the next run (or use) seals them


async def seal_stored_sets(
    settings: Any, database: Database, batch: int, progress: Callable[[SealReport], None] = lambda _: None
) -> SealReport:
    hasher = Hasher(hasher_config_from(settings.get("hashers"), dev=settings.dev))
    try:
        sealing = sealing_for(settings, hasher, cipher_from_settings(settings))
        if sealing.backup_codes is None:
            return SealReport()  # no secret: no set was ever keyed, nor can be sealed
        repository = IdentityRepository(identity_tables(MetaData()))
        uow = UnitOfWorkFactory(database, Outbox(outbox_table(MetaData(), NAME)), NAME)
        manager = IdentityManager(uow, repository, SchemaRegistry.from_settings(settings), sealing)
        report, after = SealReport(), ""
        while True:
            async with uow.read() as conn:
                ids = await repository.holders_of_unsealed_backup_codes(conn, after, batch)
            if not ids:
                return report
            for identity_id in ids:
                if await _sealed(manager, identity_id):
                    report.sealed += 1
                else:
                    report.left += 1
            after = ids[-1]
            progress(report)
    finally:
        hasher.close()


async def _sealed(manager: IdentityManager, identity_id: str) -> bool:
    try:
        credential = await manager.get_credential(identity_id, CredentialType.LOOKUP_SECRET, seal=True)
    except IdentityNotFound:  # deleted meanwhile
        return False
    return credential is not None and "kdf" in credential.config
