"""Alembic migrations per service, run programmatically (no alembic.ini, no env.py per service).

Each service keeps its revisions in `services/<svc>/migrations/versions/` and its own version table
(`alembic_version_<svc>`), so services can share one database and still migrate independently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from shared.errors import SchemaOutOfDate
from shared.storage.database import Database


@dataclass(frozen=True)
class MigrationSet:
    service: str
    directory: Path

    @property
    def version_table(self) -> str:
        return f"alembic_version_{self.service}"

    def script(self) -> tuple[Config, ScriptDirectory]:
        config = Config()
        config.set_main_option("script_location", str(self.directory))
        return config, ScriptDirectory.from_config(config)

    def heads(self) -> set[str]:
        return set(self.script()[1].get_heads())

    def revisions(self) -> list[str]:
        """Every revision, oldest first."""
        return [r.revision for r in reversed(list(self.script()[1].walk_revisions()))]


async def upgrade(database: Database, migrations: MigrationSet, target: str = "heads") -> None:
    await _run(database, migrations, lambda script, rev: script._upgrade_revs(target, rev))


async def downgrade(database: Database, migrations: MigrationSet, target: str) -> None:
    await _run(database, migrations, lambda script, rev: script._downgrade_revs(target, rev))


async def current(database: Database, migrations: MigrationSet) -> set[str]:
    def read(conn: Connection) -> set[str]:
        context = MigrationContext.configure(conn, opts={"version_table": migrations.version_table})
        return set(context.get_current_heads())

    async with database.sqlalchemy_connection() as conn:
        return await conn.run_sync(read)


async def ensure_up_to_date(database: Database, sets: Iterable[MigrationSet]) -> None:
    for migrations in sets:
        at, want = await current(database, migrations), migrations.heads()
        if at != want:
            raise SchemaOutOfDate(
                f"the {migrations.service} database schema is at {_fmt(at)}, the code needs {_fmt(want)}: "
                "run `warden migrate` (or `warden serve --migrate`)"
            )


def _fmt(revisions: set[str]) -> str:
    return ",".join(sorted(revisions)) or "no revision"


def _run(database: Database, migrations: MigrationSet, step: Callable[[ScriptDirectory, Any], Any]) -> Any:
    config, script = migrations.script()

    def migrate(conn: Connection) -> None:
        with EnvironmentContext(config, script, fn=lambda rev, _ctx: step(script, rev)) as env:
            env.configure(connection=conn, version_table=migrations.version_table, transaction_per_migration=False)
            with env.begin_transaction():
                env.run_migrations()

    async def go() -> None:
        async with database.sqlalchemy_connection() as conn:
            await conn.run_sync(migrate)
            await conn.commit()

    return go()
