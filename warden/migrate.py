"""`warden migrate` (every service's migrations on the database its DSN names; idempotent) and
`warden cleanup` (what is past its lifetime, in batches). A database that cannot be used is one line
naming its setting, as at `warden serve`."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData

from shared.bus.inbox import prune_processed
from shared.service import Cleanup, ServiceDefinition
from shared.storage import migrations
from shared.storage.tables import processed_events_table
from warden.adapters import Databases
from warden.cleanup import CleanupOptions
from warden.startup import database_step

if TYPE_CHECKING:
    from services.identity.backup_code_sealing import SealReport


async def cleanup_all(
    settings: Any,
    services: Sequence[ServiceDefinition],
    options: CleanupOptions,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> dict[str, int]:
    """Runs each service's cleanup, table by table, then deletes the records of events it processed
    long ago (see shared/bus/inbox.py): each table in batches until a batch finds nothing, with
    `options.pause` between two tables. What expired less than `options.keep_last` before the start
    stays. Returns rows deleted per service."""
    expired_before = datetime.now(UTC) - options.keep_last
    databases = Databases()
    deleted: dict[str, int] = {}
    tables_done = 0
    try:
        for service in services:
            database = databases.for_dsn(settings.dsn_for(service.name))
            with database_step(settings, service.name):
                await migrations.ensure_up_to_date(database, [service.migrations])
            processed = processed_events_table(MetaData(), service.name)
            steps: list[Cleanup] = [*service.cleanup(settings), functools.partial(prune_processed, processed=processed)]
            deleted[service.name] = 0
            for step in steps:
                if tables_done and options.pause:
                    await sleep(options.pause.total_seconds())
                while (count := await step(database, options.batch, expired_before)) > 0:
                    deleted[service.name] += count
                tables_done += 1
    finally:
        await databases.dispose()
    return deleted


async def migrate_all(settings: Any, services: Sequence[ServiceDefinition]) -> None:
    databases = Databases()
    try:
        for service in services:
            with database_step(settings, service.name):
                await migrations.upgrade(databases.for_dsn(settings.dsn_for(service.name)), service.migrations)
    finally:
        await databases.dispose()


async def seal_backup_codes(settings: Any, service: ServiceDefinition, batch: int) -> SealReport:
    """`warden backup-codes seal` (services/identity/backup_code_sealing.py)."""
    from services.identity.backup_code_sealing import seal_stored_sets

    databases = Databases()
    try:
        database = databases.for_dsn(settings.dsn_for(service.name))
        with database_step(settings, service.name):
            await migrations.ensure_up_to_date(database, [service.migrations])
        return await seal_stored_sets(settings, database, batch)
    finally:
        await databases.dispose()
