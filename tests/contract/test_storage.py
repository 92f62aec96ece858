"""The storage kernel on both engines: migrations (the stairway), the unit of work, the outbox."""

from __future__ import annotations

import pytest
from sqlalchemy import MetaData, func, select, text

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


async def test_downgrading_the_last_use_column_keeps_every_device(database: Database) -> None:
    """session_0006's downgrade drops a column in place: a batch copy of session_sessions on SQLite
    would drop the table, and its foreign key would take every device row with it."""

    mset = next(s.migrations for s in SERVICES if s.name == "session")
    await migrations.upgrade(database, mset)
    async with database.connect() as conn:
        await conn.execute(
            text(
                "INSERT INTO session_sessions (id, token_hash, identity_id, active, expires_at, authenticated_at, "
                "issued_at, authentication_methods, created_at, updated_at) VALUES ('s', 'h', 'i', true, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        await conn.execute(text("INSERT INTO session_devices (id, session_id) VALUES ('d', 's')"))
        await conn.commit()
    await migrations.downgrade(database, mset, "session_0005")
    async with database.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM session_devices"))).scalar() == 1
