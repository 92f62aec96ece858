"""One-time codes under concurrency and resends, on both engines."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import MetaData

from services.selfservice.codes import MAX_ATTEMPTS, OneTimeCodes
from services.selfservice.tables import selfservice_tables
from shared.storage import migrations
from shared.storage.database import Database
from warden.services import by_name


@pytest.fixture
async def codes_db(any_dsn: str):  # type: ignore[no-untyped-def]
    db = Database.from_dsn(any_dsn)
    await migrations.upgrade(db, by_name("selfservice").migrations)
    yield db, OneTimeCodes(selfservice_tables(MetaData()).codes, "pepper-for-tests")
    await db.dispose()


async def _issue(db: Database, codes: OneTimeCodes, flow_id: str = "flow-1") -> str:
    async with db.transaction() as conn:
        return await codes.issue(
            conn,
            flow_id=flow_id,
            kind="recovery",
            method="code",
            address="a@example.com",
            via="email",
            identity_id="identity-1",
            lifespan=timedelta(minutes=15),
        )


async def _redeem(db: Database, codes: OneTimeCodes, secret: str, flow_id: str = "flow-1") -> bool:
    async with db.transaction() as conn:
        return await codes.redeem(conn, flow_id=flow_id, kind="recovery", method="code", secret=secret) is not None


async def test_a_code_is_redeemed_once_however_many_try_at_the_same_time(codes_db) -> None:  # type: ignore[no-untyped-def]
    db, codes = codes_db
    code = await _issue(db, codes)
    results = await asyncio.gather(*(_redeem(db, codes, code) for _ in range(MAX_ATTEMPTS)))
    assert results.count(True) == 1


async def test_concurrent_wrong_guesses_never_exceed_the_limit(codes_db) -> None:  # type: ignore[no-untyped-def]
    db, codes = codes_db
    code = await _issue(db, codes)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    await asyncio.gather(*(_redeem(db, codes, wrong) for _ in range(3 * MAX_ATTEMPTS)))
    assert not await _redeem(db, codes, code), "the flow is locked once its tries are used up"


async def test_a_resend_does_not_buy_more_guesses(codes_db) -> None:  # type: ignore[no-untyped-def]
    db, codes = codes_db
    first = await _issue(db, codes)
    for _ in range(MAX_ATTEMPTS):
        assert not await _redeem(db, codes, f"{(int(first) + 1) % 10**6:06d}")
    second = await _issue(db, codes)
    assert not await _redeem(db, codes, second)


async def test_four_wrong_tries_then_the_right_code_works(codes_db) -> None:  # type: ignore[no-untyped-def]
    db, codes = codes_db
    code = await _issue(db, codes)
    for _ in range(MAX_ATTEMPTS - 1):
        assert not await _redeem(db, codes, f"{(int(code) + 1) % 10**6:06d}")
    assert await _redeem(db, codes, code)
    assert not await _redeem(db, codes, code), "single use"
