"""One-time codes under concurrency and resends, on both engines."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import MetaData, func, select

from services.selfservice.codes import MAX_ATTEMPTS, OneTimeCodes, Recipient, ResendTooSoon, TriesUsedUp
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


async def _issue(
    db: Database, codes: OneTimeCodes, flow_id: str = "flow-1", kind: str = "recovery", **options: Any
) -> str:
    async with db.transaction() as conn:
        return await codes.issue(
            conn,
            flow_id=flow_id,
            kind=kind,
            method="code",
            address="a@example.com",
            via="email",
            identity_id="identity-1",
            **{"lifespan": timedelta(minutes=15), **options},
        )


async def _outcome(db: Database, codes: OneTimeCodes, secret: str, flow_id: str = "flow-1") -> str:
    """What one try came to: redeemed, refused (None), or used up (TriesUsedUp; committed, as callers do)."""
    async with db.transaction() as conn:
        try:
            found = await codes.redeem(conn, flow_id=flow_id, kind="recovery", method="code", secret=secret)
        except TriesUsedUp:
            return "used up"
    return "refused" if found is None else "redeemed"


async def _redeem(db: Database, codes: OneTimeCodes, secret: str, flow_id: str = "flow-1") -> bool:
    return await _outcome(db, codes, secret, flow_id) == "redeemed"


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


async def test_codes_asked_for_at_the_same_time_leave_one_that_works(codes_db) -> None:  # type: ignore[no-untyped-def]
    """A resend pressed while the flow's first code is being sent: one code is left working, as with
    resends one after the other (a fresh flow has no codes yet whose rows could be locked)."""
    db, codes = codes_db
    await asyncio.gather(*(_issue(db, codes, "flow-race") for _ in range(8)))
    table = selfservice_tables(MetaData()).codes
    async with db.transaction() as conn:
        unused = await conn.execute(
            select(func.count()).where(table.c.flow_id == "flow-race", table.c.used_at.is_(None))
        )
        assert unused.scalar_one() == 1


async def test_four_wrong_tries_then_the_right_code_works(codes_db) -> None:  # type: ignore[no-untyped-def]
    db, codes = codes_db
    code = await _issue(db, codes)
    for _ in range(MAX_ATTEMPTS - 1):
        assert not await _redeem(db, codes, f"{(int(code) + 1) % 10**6:06d}")
    assert await _redeem(db, codes, code)
    assert not await _redeem(db, codes, code), "single use"


async def test_a_new_code_waits_for_the_resend_interval_of_its_flow(codes_db) -> None:  # type: ignore[no-untyped-def]
    db, codes = codes_db
    interval = timedelta(seconds=0.3)

    async def issue(flow_id: str) -> str:
        return await _issue(db, codes, flow_id, "login", resend_after=interval)

    first = await issue("flow-a")
    with pytest.raises(ResendTooSoon) as caught:
        await issue("flow-a")
    assert caught.value.retry_after == 1  # whole seconds, rounded up
    await issue("flow-b")  # another flow is not held back
    await asyncio.sleep(interval.total_seconds())
    second = await issue("flow-a")
    async with db.transaction() as conn:
        assert await codes.redeem(conn, flow_id="flow-a", kind="login", method="code", secret=first) is None
    async with db.transaction() as conn:
        assert await codes.redeem(conn, flow_id="flow-a", kind="login", method="code", secret=second) is not None


async def test_each_address_gets_its_own_code_and_one_redemption_ends_them_all(codes_db) -> None:  # type: ignore[no-untyped-def]
    db, codes = codes_db
    recipients = [Recipient("a@example.com", "email"), Recipient("+4915112345678", "sms")]
    async with db.transaction() as conn:
        by_mail, by_sms = await codes.issue_each(
            conn,
            flow_id="flow-1",
            kind="registration",
            method="code",
            recipients=recipients,
            identity_id=None,
            lifespan=timedelta(minutes=10),
        )
    async with db.transaction() as conn:
        redeemed = await codes.redeem(conn, flow_id="flow-1", kind="registration", method="code", secret=by_sms)
    assert redeemed is not None and (redeemed.address, redeemed.via) == ("+4915112345678", "sms")
    async with db.transaction() as conn:
        assert await codes.redeem(conn, flow_id="flow-1", kind="registration", method="code", secret=by_mail) is None


async def test_the_number_of_tries_comes_from_the_config(any_dsn: str) -> None:
    db = Database.from_dsn(any_dsn)
    await migrations.upgrade(db, by_name("selfservice").migrations)
    codes = OneTimeCodes(selfservice_tables(MetaData()).codes, "pepper-for-tests", max_attempts=2)
    try:
        code = await _issue(db, codes)
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        assert await _outcome(db, codes, wrong) == "refused"
        assert await _outcome(db, codes, wrong) == "refused"
        assert await _outcome(db, codes, code) == "used up"
    finally:
        await db.dispose()


async def test_an_expired_code_is_refused_and_the_try_still_counts(codes_db) -> None:  # type: ignore[no-untyped-def]
    db, codes = codes_db
    expired = await _issue(db, codes, "flow-old", lifespan=timedelta(seconds=-1))
    assert not await _redeem(db, codes, expired, "flow-old")
    async with db.transaction() as conn:
        table = selfservice_tables(MetaData()).codes
        [tries] = (await conn.execute(select(table.c.attempts).where(table.c.flow_id == "flow-old"))).scalars()
    assert tries == 1


async def test_a_code_works_only_in_the_flow_and_for_the_purpose_it_was_sent_for(codes_db) -> None:  # type: ignore[no-untyped-def]
    db, codes = codes_db
    code = await _issue(db, codes, flow_id="flow-a")
    await _issue(db, codes, flow_id="flow-b")  # another flow waiting for its own code
    assert not await _redeem(db, codes, code, flow_id="flow-b"), "another flow's code"
    async with db.transaction() as conn:
        as_verification = await codes.redeem(conn, flow_id="flow-a", kind="verification", method="code", secret=code)
    assert as_verification is None, "a recovery code does not verify"
    assert await _redeem(db, codes, code, flow_id="flow-a")


async def test_a_code_redeemed_for_another_owner_is_refused_and_left_for_its_own(codes_db) -> None:  # type: ignore[no-untyped-def]
    """Kratos's `UseLoginCode(flow, identity, code)`: only the named identity's code counts; the
    try does, and the code still works for the identity it was sent for."""
    db, codes = codes_db
    code = await _issue(db, codes)  # sent for identity-1
    for owner in ("identity-2", None):
        async with db.transaction() as conn:
            other = await codes.redeem(conn, flow_id="flow-1", kind="recovery", method="code", secret=code, owner=owner)
        assert other is None
    async with db.transaction() as conn:
        own = await codes.redeem(
            conn, flow_id="flow-1", kind="recovery", method="code", secret=code, owner="identity-1"
        )
    assert own is not None and own.identity_id == "identity-1"
    table = selfservice_tables(MetaData()).codes
    async with db.transaction() as conn:
        [tries] = (await conn.execute(select(table.c.attempts).where(table.c.flow_id == "flow-1"))).scalars()
    assert tries == 3


async def test_past_the_flow_s_last_try_every_code_is_used_up_even_with_none_left(codes_db) -> None:  # type: ignore[no-untyped-def]
    """Kratos's `ErrCodeSubmittedTooOften`: the count is the flow's, checked before any code is, so
    the answer is the same for the right code, a wrong one, and a flow whose codes expired."""
    db, codes = codes_db
    code = await _issue(db, codes)
    expired = await _issue(db, codes, "flow-old", lifespan=timedelta(seconds=-1))
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(MAX_ATTEMPTS):
        assert await _outcome(db, codes, wrong) == "refused"
        assert await _outcome(db, codes, expired, "flow-old") == "refused"
    assert [await _outcome(db, codes, guess) for guess in (code, wrong)] == ["used up"] * 2
    assert await _outcome(db, codes, expired, "flow-old") == "used up"
    table = selfservice_tables(MetaData()).codes
    async with db.transaction() as conn:
        [tries] = (await conn.execute(select(table.c.attempts).where(table.c.flow_id == "flow-old"))).scalars()
    assert tries == MAX_ATTEMPTS + 1, "the try past the last is counted too (committed, as the callers do)"
