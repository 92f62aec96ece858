"""`warden migrate`: every service's migrations, each on the database its DSN names. Idempotent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.service import ServiceDefinition
from shared.storage import migrations
from warden.adapters import Databases


async def migrate_all(settings: Any, services: Sequence[ServiceDefinition]) -> None:
    databases = Databases()
    try:
        for service in services:
            await migrations.upgrade(databases.for_dsn(settings.dsn_for(service.name)), service.migrations)
    finally:
        await databases.dispose()
