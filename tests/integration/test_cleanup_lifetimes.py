"""`warden cleanup` on SQLite and PostgreSQL, where a row outlives what it seems to hold: a one-time
code that expired keeps its flow's tries while the flow lives, a web hook delivery stays until it is
delivered or abandoned, and the password throttle forgets an identifier only as the configured
`forget_after` does, never within a lockout. What is past all that goes, the address or key with it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import urllib3
from sqlalchemy import MetaData, insert, select, update

from services.courier.claims import ABANDONED, PROCESSING, QUEUED, SENT
from services.courier.config import RETENTION
from services.courier.tables import courier_tables
from services.identity.throttle import account_key, throttle_table
from services.selfservice.codes import CODE, OneTimeCodes, TriesUsedUp
from services.selfservice.tables import selfservice_tables
from shared.config import Settings
from shared.storage.database import Database
from tests.factories import ThreadedWarden, running_warden, settings_for
from warden.cleanup import CleanupOptions
from warden.migrate import cleanup_all, migrate_all
from warden.services import SERVICES

METADATA = MetaData()
SELFSERVICE, COURIER, THROTTLE = selfservice_tables(METADATA), courier_tables(METADATA), throttle_table(METADATA)
HOUR = timedelta(hours=1)


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


async def _issue(database: Database, codes: OneTimeCodes, flow_id: str) -> str:
    async with database.transaction() as conn:
        return await codes.issue(
            conn,
            flow_id=flow_id,
            kind="login",
            method=CODE,
            address=f"{flow_id}@example.com",
            via="email",
            identity_id=None,
            lifespan=timedelta(minutes=15),
        )


async def test_an_expired_code_stays_while_its_flow_lives_and_holds_its_tries(
    settings: Settings, database: Database
) -> None:
    now = datetime.now(UTC)
    async with database.transaction() as conn:
        for flow_id, expires in {"live": now + HOUR, "ended": now - HOUR, "fresh": now + HOUR}.items():
            at = dict(expires_at=expires, created_at=expires - HOUR, updated_at=expires - HOUR)
            await conn.execute(insert(SELFSERVICE.flows).values(id=flow_id, kind="login", body="{}", **at))
    codes = OneTimeCodes(SELFSERVICE.codes, "a pepper", max_attempts=3)
    for flow_id in ("live", "ended", "fresh"):
        await _issue(database, codes, flow_id)
    for _ in range(3):  # every try of the live flow, spent on wrong codes
        async with database.transaction() as conn:
            assert await codes.redeem(conn, flow_id="live", kind="login", method=CODE, secret="wrong") is None
    async with database.transaction() as conn:  # the live and the ended flows' codes expired an hour ago
        c = SELFSERVICE.codes.c
        await conn.execute(update(SELFSERVICE.codes).where(c.flow_id != "fresh").values(expires_at=now - HOUR))

    deleted = await cleanup_all(settings, SERVICES, CleanupOptions())
    assert deleted["selfservice"] == 2, "the ended flow, and its code"
    async with database.connect() as conn:
        addresses = set((await conn.execute(select(SELFSERVICE.codes.c.address))).scalars())
    assert addresses == {"live@example.com", "fresh@example.com"}

    # Asking the live flow for a new code does not buy new tries: the right code is refused.
    secret = await _issue(database, codes, "live")
    with pytest.raises(TriesUsedUp):
        async with database.transaction() as conn:
            await codes.redeem(conn, flow_id="live", kind="login", method=CODE, secret=secret)


async def test_a_delivery_goes_once_delivered_or_abandoned_past_the_retention(
    settings: Settings, database: Database
) -> None:
    old, recent = datetime.now(UTC) - RETENTION - HOUR, datetime.now(UTC) - RETENTION + HOUR
    seeded = {
        "delivered": (SENT, old),
        "abandoned": (ABANDONED, old),
        "queued": (QUEUED, old),  # still to be delivered, however old
        "sending": (PROCESSING, old),
        "delivered-lately": (SENT, recent),
    }
    async with database.transaction() as conn:
        for key, (status, at) in seeded.items():
            fields = dict(kind="web_hook", target="hooks.0", url="https://hooks.example/", method="POST", body="{}")
            fields |= dict(status=status, send_count=1, next_attempt_at=at, created_at=at, updated_at=at)
            await conn.execute(insert(COURIER.webhooks).values(id=key, **fields))

    deleted = await cleanup_all(settings, SERVICES, CleanupOptions())
    assert deleted["courier"] == 2
    async with database.connect() as conn:
        left = set((await conn.execute(select(COURIER.webhooks.c.id))).scalars())
    assert left == {"queued", "sending", "delivered-lately"}


# --- the password throttle, through a login ---------------------------------------------------

PASSWORD = "Quartz-Lantern-Nimbus-4817"
LOCKOUT = 3  # failures that lock the identifier, for the lock's `forget_after` (2h, not the default 1h)


def _login(warden: ThreadedWarden, identifier: str, password: str) -> int:
    flow = json.loads(urllib3.request("GET", f"{warden.public_url}/self-service/login/api").data)
    body = {"method": "password", "identifier": identifier, "password": password}
    return urllib3.request("POST", f"{warden.public_url}/self-service/login?flow={flow['id']}", json=body).status


async def _throttle_rows(dsn: str, *, earlier_by: float = 0.0, seed: dict[str, Any] | None = None) -> set[str]:
    """Moves every count `earlier_by` seconds into the past, adds `seed`'s rows; the keys left."""
    db = Database.from_dsn(dsn)
    try:
        async with db.transaction() as conn:
            c = THROTTLE.c
            await conn.execute(
                update(THROTTLE).values(
                    updated_at=c.updated_at - earlier_by, blocked_until=c.blocked_until - earlier_by
                )
            )
            for key, (updated_at, blocked_until) in (seed or {}).items():
                values = dict(key_hash=key, failures=4, updated_at=updated_at, blocked_until=blocked_until)
                await conn.execute(insert(THROTTLE).values(**values))
            return set((await conn.execute(select(c.key_hash))).scalars())
    finally:
        await db.dispose()


def test_cleanup_forgets_counts_as_the_configured_policy_does_and_never_a_lock_early(
    tmp_path: Path, any_dsn: str
) -> None:
    checks = {"forget_after": "2h", "lockout_after": LOCKOUT, "ceiling_delay": "0s"}
    settings = settings_for(tmp_path, any_dsn, {"rate_limits": {"password_checks": checks}})
    email = "locked@example.com"
    with running_warden(settings) as warden:
        identity = {"schema_id": "default", "traits": {"email": email}}
        identity["credentials"] = {"password": {"config": {"password": PASSWORD}}}
        created = urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=identity)
        assert created.status == 201, created.data
        locked = account_key(json.loads(created.data)["id"])  # the account's count, whichever identifier
        for _ in range(LOCKOUT):
            assert _login(warden, email, "a wrong guess") == 400
        assert _login(warden, email, PASSWORD) == 429, "locked"

        now = datetime.now(UTC).timestamp()
        seed = {
            "forgotten": (now - 3 * 3600, None),
            "forgotten-block-over": (now - 3 * 3600, now - 3600),
            "blocked-still": (now - 3 * 3600, now + 600),  # a block outlasting its count: it stays
        }
        # 90 minutes on: past the default hour, within the configured two, which the lock lasts.
        keys = asyncio.run(_throttle_rows(any_dsn, earlier_by=90 * 60, seed=seed))
        assert locked in keys
        deleted = asyncio.run(cleanup_all(settings, SERVICES, CleanupOptions()))
        assert deleted["identity"] == 2
        assert asyncio.run(_throttle_rows(any_dsn)) == keys - {"forgotten", "forgotten-block-over"}
        assert _login(warden, email, PASSWORD) == 429, "still locked after the cleanup"

        # 2 hours and a bit after the failure that locked it, the lock is over and its row goes.
        asyncio.run(_throttle_rows(any_dsn, earlier_by=40 * 60))
        asyncio.run(cleanup_all(settings, SERVICES, CleanupOptions()))
        assert locked not in asyncio.run(_throttle_rows(any_dsn))
        assert _login(warden, email, PASSWORD) == 200, "the owner signs in"
        for _ in range(LOCKOUT):  # and the throttle counts again from nothing
            assert _login(warden, email, "a wrong guess") == 400
        assert _login(warden, email, PASSWORD) == 429
