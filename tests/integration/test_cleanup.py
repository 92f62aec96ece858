"""`warden cleanup` on SQLite and PostgreSQL, as `cleanup_all` runs it: `database.cleanup.older_than`
keeps what expired less than that long ago, in every table it cleans (flows, one-time codes,
self-service errors, sessions, courier messages and web hook deliveries, the password throttle's
counts, processed-event records), and `database.cleanup.sleep.tables` pauses
between two tables, each table finished before the pause and the next untouched."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import MetaData, Table, func, insert, select

from services.courier.config import RETENTION as MESSAGE_RETENTION
from services.courier.tables import courier_tables
from services.identity.throttle import FORGET_AFTER_SECONDS, throttle_table
from services.selfservice.service import ERROR_RETENTION
from services.selfservice.tables import selfservice_tables
from services.session.tables import session_tables
from shared.bus.inbox import PROCESSED_RETENTION
from shared.config import Settings
from shared.storage.database import Database
from shared.storage.tables import processed_events_table
from warden.cleanup import CleanupOptions
from warden.migrate import cleanup_all, migrate_all
from warden.services import SERVICES

METADATA = MetaData()
SELFSERVICE, SESSION, COURIER = selfservice_tables(METADATA), session_tables(METADATA), courier_tables(METADATA)
THROTTLE = throttle_table(METADATA)
PROCESSED = {s.name: processed_events_table(METADATA, s.name) for s in SERVICES}
# In the order `warden cleanup` cleans them: each service's own tables, then its processed events.
TABLES = [
    THROTTLE,
    PROCESSED["identity"],
    SESSION.sessions,
    PROCESSED["session"],
    SELFSERVICE.flows,
    SELFSERVICE.codes,
    SELFSERVICE.errors,
    PROCESSED["selfservice"],
    COURIER.messages,
    COURIER.webhooks,
    PROCESSED["courier"],
]


@pytest.fixture
async def settings(any_dsn: str) -> Settings:
    settings = Settings(dsn=any_dsn)
    await migrate_all(settings, SERVICES)
    return settings


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database.from_dsn(settings.dsn)
    yield db
    await db.dispose()


def row(table: Table, key: str, ended: datetime) -> dict[str, Any]:
    """A row of `table` whose lifetime ended at `ended` (in the future: still alive)."""
    if table is SELFSERVICE.flows:
        return dict(id=key, kind="login", body="{}", expires_at=ended, created_at=ended, updated_at=ended)
    if table is SELFSERVICE.codes:  # of the flow seeded with the same key, which ends with it
        fields = dict(kind="login", method="code", secret_hash=key, address="a@example.com", via="email", attempts=1)
        return dict(id=key, flow_id=key, expires_at=ended, created_at=ended - timedelta(minutes=15), **fields)
    if table is SELFSERVICE.errors:
        created = ended - ERROR_RETENTION
        return dict(id=key, error="{}", csrf_token="", created_at=created, updated_at=created)
    if table is SESSION.sessions:
        at = ended - timedelta(days=1)
        fields = dict(identity_id="i", active=True, authentication_methods="[]", authenticated_at=at, issued_at=at)
        return dict(id=key, token_hash=key, expires_at=ended, created_at=at, updated_at=at, **fields)
    if table is COURIER.messages:
        fields = dict(type="email", channel="email", status="sent", recipient="a@example.com", subject="s")
        fields |= dict(body="b", template_type="stub", template_data="{}", send_count=1)
        sent = ended - MESSAGE_RETENTION
        return dict(id=key, next_attempt_at=sent, created_at=sent, updated_at=sent, **fields)
    if table is COURIER.webhooks:
        delivered = ended - MESSAGE_RETENTION
        fields = dict(kind="web_hook", target="hooks.0", url="https://hooks.example/", method="POST", body="{}")
        fields |= dict(status="sent", send_count=1, next_attempt_at=delivered)
        return dict(id=key, created_at=delivered, updated_at=delivered, **fields)
    if table is THROTTLE:  # its last failure forgotten when `ended`
        return dict(key_hash=key, failures=3, blocked_until=None, updated_at=ended.timestamp() - FORGET_AFTER_SECONDS)
    return dict(event_id=key, queue="q", processed_at=ended - PROCESSED_RETENTION)


async def seed(database: Database, **ended: datetime) -> None:
    async with database.transaction() as conn:
        for table in TABLES:
            await conn.execute(insert(table), [row(table, key, at) for key, at in ended.items()])


async def left(database: Database) -> dict[str, set[str]]:
    async with database.connect() as conn:
        return {
            table.name: set((await conn.execute(select(table.primary_key.columns.values()[0]))).scalars())
            for table in TABLES
        }


async def test_older_than_keeps_what_expired_less_than_that_long_ago(settings: Settings, database: Database) -> None:
    now = datetime.now(UTC)
    await seed(database, old=now - timedelta(hours=2), young=now - timedelta(minutes=30), live=now + timedelta(hours=1))
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    deleted = await cleanup_all(settings, SERVICES, CleanupOptions(keep_last=timedelta(hours=1)), sleep)
    assert deleted == {"identity": 2, "session": 2, "selfservice": 4, "courier": 3}
    assert await left(database) == {table.name: {"young", "live"} for table in TABLES}
    assert pauses == [], "no pause unless asked for"

    # Kratos's default, 0s: everything past its lifetime goes, what is still alive stays.
    await cleanup_all(settings, SERVICES, CleanupOptions(batch=1), sleep)
    assert await left(database) == {table.name: {"live"} for table in TABLES}


async def test_the_pause_comes_between_tables_each_finished_before_it(settings: Settings, database: Database) -> None:
    now = datetime.now(UTC)
    await seed(database, first=now - timedelta(hours=1), second=now - timedelta(hours=2))
    still_holding: list[list[str]] = []

    async def sleep(seconds: float) -> None:
        assert seconds == 0.001
        async with database.connect() as conn:
            counts = [(await conn.execute(select(func.count()).select_from(t))).scalar_one() for t in TABLES]
        still_holding.append([t.name for t, n in zip(TABLES, counts, strict=True) if n])
        await asyncio.sleep(seconds)

    options = CleanupOptions(batch=1, pause=timedelta(milliseconds=1))
    await cleanup_all(settings, SERVICES, options, sleep)
    # One pause between each two tables, none before the first or after the last; at each, the
    # tables cleaned so far are empty (both their batches went) and the rest not yet touched.
    names = [t.name for t in TABLES]
    assert still_holding == [names[done:] for done in range(1, len(TABLES))]
    assert await left(database) == {name: set() for name in names}
