"""The storage kernel on both engines: migrations (the stairway), the unit of work, the outbox."""

from __future__ import annotations

import pytest
from sqlalchemy import MetaData, func, select

from shared.bus.outbox import Outbox
from shared.storage import migrations
from shared.storage.database import Database
from shared.storage.tables import outbox_table
from shared.storage.uow import UnitOfWorkFactory
from warden.services import SERVICES


@pytest.fixture
async def database(any_dsn: str):
    db = Database.from_dsn(any_dsn)
    yield db
    await db.dispose()


@pytest.mark.parametrize("service", [s.name for s in SERVICES])
async def test_stairway_every_migration_up_down_up(database: Database, service: str) -> None:
    mset = next(s.migrations for s in SERVICES if s.name == service)
    revisions = mset.revisions()
    assert revisions, "each service has at least one migration"
    for i, revision in enumerate(revisions):
        await migrations.upgrade(database, mset, revision)
        assert await migrations.current(database, mset) == {revision}
        await migrations.downgrade(database, mset, revisions[i - 1] if i else "base")
        await migrations.upgrade(database, mset, revision)
    assert await migrations.current(database, mset) == mset.heads()


async def test_migrate_is_idempotent_and_checked(database: Database) -> None:
    sets = [s.migrations for s in SERVICES]
    with pytest.raises(Exception, match="run `warden migrate`"):
        await migrations.ensure_up_to_date(database, sets)
    for mset in sets:
        await migrations.upgrade(database, mset)
        await migrations.upgrade(database, mset)
    await migrations.ensure_up_to_date(database, sets)


async def _outbox_count(database: Database, table) -> int:
    async with database.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


async def test_unit_of_work_commits_events_with_the_change_and_rolls_back_both(database: Database) -> None:
    mset = next(s.migrations for s in SERVICES if s.name == "identity")
    await migrations.upgrade(database, mset)
    table = outbox_table(MetaData(), "identity")
    uow = UnitOfWorkFactory(database, Outbox(table), "identity")

    async with uow() as work:
        work.emit_raw("identity.created", {"id": "a"})
        await work.commit()
    async with uow() as work:
        work.emit_raw("identity.created", {"id": "b"})  # left without commit: rolled back
    with pytest.raises(RuntimeError):
        async with uow() as work:
            work.emit_raw("identity.created", {"id": "c"})
            raise RuntimeError("the change failed")

    assert await _outbox_count(database, table) == 1
