"""`warden migrate` (every service's migrations on the database its DSN names; idempotent) and
`warden cleanup` (what is past its lifetime, in batches). A database that cannot be used is one line
naming its setting, as at `warden serve`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.service import ServiceDefinition
from shared.storage import migrations
from warden.adapters import Databases
from warden.startup import database_step


async def cleanup_all(settings: Any, services: Sequence[ServiceDefinition], batch: int) -> dict[str, int]:
    """Runs each service's cleanup in batches until a batch finds nothing; returns rows deleted per service."""
    databases = Databases()
    deleted: dict[str, int] = {}
    try:
        for service in services:
            if service.cleanup is None:
                continue
            database = databases.for_dsn(settings.dsn_for(service.name))
            with database_step(settings, service.name):
                await migrations.ensure_up_to_date(database, [service.migrations])
            deleted[service.name] = 0
            while (count := await service.cleanup(database, batch)) > 0:
                deleted[service.name] += count
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
