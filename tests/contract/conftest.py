"""What contract tests of the storage layer share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.storage import migrations
from shared.storage.database import Database
from warden.services import SERVICES


@pytest.fixture
async def database(any_dsn: str) -> AsyncIterator[Database]:
    """A `Database` on each engine with the identity service's tables (its outbox among them); a test
    file with a `database` of its own keeps that one."""
    db = Database.from_dsn(any_dsn)
    await migrations.upgrade(db, next(s.migrations for s in SERVICES if s.name == "identity"))
    yield db
    await db.dispose()
