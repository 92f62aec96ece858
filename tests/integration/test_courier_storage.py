"""The courier's tables on SQLite and PostgreSQL: the migrations (up, down, up), claiming that only
one courier can win, a lease that runs out, keyset paging with equal timestamps, and cleanup; and a
dispatcher that stops when told, even as a queued message wakes it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import MetaData, text, update

from services.courier.dispatcher import Dispatcher
from services.courier.domain import ABANDONED, PROCESSING, QUEUED, SENT, Message, now
from services.courier.persistence import MessageRepository
from services.courier.service import DEFINITION as COURIER
from services.courier.service import delete_finished_messages
from services.courier.tables import courier_tables
from shared.storage.database import Database
from shared.storage.migrations import current, downgrade, upgrade
from tests.stopping import stops_when_woken_as_cancelled

REPO = MessageRepository(courier_tables(MetaData()))
LEASE = timedelta(minutes=5)


@pytest.fixture
async def database(any_dsn: str) -> AsyncIterator[Database]:
    db = Database.from_dsn(any_dsn)
    await upgrade(db, COURIER.migrations)
    yield db
    await db.dispose()


def message(n: int = 0, **changes: object) -> Message:
    fields: dict[str, object] = dict(
        id=f"00000000-0000-4000-8000-{n:012d}",
        channel="email",
        recipient=f"user{n}@example.com",
        subject="s",
        body="b",
        html_body="<p>b</p>",
        template_type="stub",
        template_data={"To": f"user{n}@example.com"},
    )
    fields.update(changes)
    return Message(**fields)  # type: ignore[arg-type]


async def insert(db: Database, *messages: Message) -> None:
    async with db.transaction() as conn:
        for m in messages:
            await REPO.insert(conn, m)


async def claim(db: Database, message_id: str, token: str, lease: timedelta = LEASE) -> Message | None:
    async with db.transaction() as conn:
        claimed = await REPO.claim(conn, [message_id], now(), lease, token)
    return claimed[0] if claimed else None


async def test_migrations_go_down_and_up_again(database: Database) -> None:
    revisions = COURIER.migrations.revisions()
    assert revisions[-1] == "courier_0006"
    await downgrade(database, COURIER.migrations, "courier_0001")
    await upgrade(database, COURIER.migrations)
    assert await current(database, COURIER.migrations) == {"courier_0006"}
    await insert(database, message())


async def test_a_message_stored_before_is_not_stored_again(database: Database) -> None:
    """What the consumer sends for a command: stores a new message, and leaves one already stored
    as it is (a command delivered again whose inbox row is gone), without an error."""
    for attempt in ("first", "again"):
        async with database.transaction() as conn:
            statement, params = REPO.insert_new(message(7, subject=attempt, template_data={"n": 7}))
            await conn.execute(statement, params)
    async with database.read() as conn:
        stored = await REPO.get(conn, message(7).id)
    assert stored is not None and stored.subject == "first" and stored.template_data == {"n": 7}
    assert stored.next_attempt_at is not None and stored.status == QUEUED


async def test_only_one_claim_wins(database: Database) -> None:
    await insert(database, message(1))
    won = await asyncio.gather(*(claim(database, message(1).id, f"token-{n}") for n in range(5)))
    winners = [m for m in won if m is not None]
    assert len(winners) == 1 and winners[0].status == PROCESSING
    async with database.transaction() as conn:
        assert await REPO.due(conn, now(), 10) == []
        assert not await REPO.finish(conn, winners[0], "some-other-token", now(), error=None, status=SENT)


async def test_a_claim_whose_lease_ran_out_is_taken_over(database: Database) -> None:
    await insert(database, message(2))
    first = await claim(database, message(2).id, "first", lease=timedelta(0))
    assert first is not None
    await asyncio.sleep(0.01)
    second = await claim(database, message(2).id, "second")
    assert second is not None, "the first courier died mid-send; its lease is over"
    async with database.transaction() as conn:
        assert not await REPO.finish(conn, first, "first", now(), error=None, status=SENT)
        assert await REPO.finish(conn, second, "second", now(), error=None, status=SENT)
        stored = await REPO.get(conn, message(2).id)
    assert stored is not None and (stored.status, stored.send_count, len(stored.dispatches)) == (SENT, 1, 1)


async def test_a_batch_of_sends_is_recorded_only_where_the_claim_still_holds(database: Database) -> None:
    await insert(database, message(5), message(6))
    async with database.transaction() as conn:
        first = await REPO.claim(conn, [message(5).id, message(6).id], now(), timedelta(0), "first")
    await asyncio.sleep(0.01)
    taken = await claim(database, message(6).id, "second")  # the first courier's lease ran out
    assert [m.id for m in first] == [message(5).id, message(6).id] and taken is not None
    async with database.transaction() as conn:
        assert await REPO.finish_sent(conn, first, "first", now()) == {message(5).id}
        sent, still_out = await REPO.get(conn, message(5).id), await REPO.get(conn, message(6).id)
    assert sent is not None and (sent.status, sent.send_count, [d.status for d in sent.dispatches]) == (
        SENT,
        1,
        ["success"],
    )
    assert still_out is not None and (still_out.status, still_out.dispatches) == (PROCESSING, [])


async def test_a_message_is_due_only_after_its_retry_time(database: Database) -> None:
    await insert(database, message(3, next_attempt_at=now() + timedelta(seconds=30)), message(4))
    async with database.transaction() as conn:
        assert await REPO.due(conn, now(), 10) == [message(4).id]
        assert await REPO.due(conn, now() + timedelta(minutes=1), 10) == [message(4).id, message(3).id], (
            "oldest due first"
        )


async def test_couriers_claiming_what_is_due_at_once_share_it_out(database: Database) -> None:
    """The dispatcher's poll, one statement: the oldest due messages up to its batch size, each to
    one courier only, and none that is not yet due."""
    later = now() + timedelta(minutes=1)
    await insert(database, *(message(n, next_attempt_at=now() - timedelta(seconds=n)) for n in range(30, 36)))
    await insert(database, message(36, next_attempt_at=later))

    async def poll(token: str, limit: int = 2) -> list[Message]:
        async with database.read() as conn:
            return await REPO.claim_due(conn, now(), limit, LEASE, token)

    oldest = await poll("oldest", limit=1)
    assert [m.id for m in oldest] == [message(35).id] and oldest[0].status == PROCESSING
    batches = await asyncio.gather(*(poll(f"courier-{n}") for n in range(4)))
    claimed = [m.id for batch in batches for m in batch]
    assert sorted(claimed) == [message(n).id for n in range(30, 35)], "each due message once, none twice"
    assert all(len(batch) <= 2 for batch in batches)
    assert await poll("idle") == [], "the one left is not due yet"


async def test_a_poll_claims_no_more_than_its_batch_when_statistics_say_little_is_due(database: Database) -> None:
    """PostgreSQL may run an `IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)` once per candidate row
    (BUG #15715: a nested loop semi join, chosen when its statistics say few rows are due, as they
    do after a burst of new messages into a table of sent ones); each run skips the rows the UPDATE
    already changed and locks the next, so one poll claimed every due message, past its batch and
    its lease's worth of sending."""
    sent = [message(1000 + n, status=SENT) for n in range(1000)]
    await insert(database, *sent)
    async with database.read() as conn:
        await conn.execute(text("ANALYZE courier_messages"))
    oldest = now() - timedelta(minutes=5)  # stored oldest first, as they come
    await insert(database, *(message(n, next_attempt_at=oldest + timedelta(seconds=n)) for n in range(40, 60)))
    async with database.read() as conn:
        claimed = await REPO.claim_due(conn, now(), 3, LEASE, "poll")
    assert [m.id for m in claimed] == [message(n).id for n in (40, 41, 42)]


async def test_paging_with_equal_timestamps_sees_each_message_once(database: Database) -> None:
    same = now()
    await insert(database, *(message(n, created_at=same, updated_at=same) for n in range(10, 17)))
    seen: list[str] = []
    after = None
    async with database.connect() as conn:
        while page := await REPO.page(conn, size=3, after=after):
            seen += [m.id for m in page]
            after = (page[-1].created_at, page[-1].id)
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == 7


async def test_cleanup_deletes_old_finished_messages_only(database: Database) -> None:
    old = now() - timedelta(days=31)
    await insert(
        database,
        message(20, status=SENT),
        message(21, status=ABANDONED),
        message(22, status=QUEUED),
        message(23, status=SENT),
    )
    table = REPO.t.messages
    async with database.transaction() as conn:
        await conn.execute(
            update(table).where(table.c.id.in_([message(n).id for n in (20, 21, 22)])).values(updated_at=old)
        )
        [claimed] = await REPO.claim(conn, [message(22).id], now(), LEASE, "t")
        await REPO.finish(conn, claimed, "t", now(), error={"message": "x"}, status=QUEUED)
        await conn.execute(update(table).where(table.c.id == message(22).id).values(updated_at=old))
    assert await delete_finished_messages(database, 1, now()) == 1
    assert await delete_finished_messages(database, 100, now()) == 1
    assert await delete_finished_messages(database, 100, now()) == 0
    async with database.connect() as conn:
        left = {m.id for m in await REPO.page(conn, size=10, after=None)}
        kept = await REPO.get(conn, message(22).id)
    assert left == {message(22).id, message(23).id}, "queued messages stay, however old"
    assert kept is not None and kept.dispatches[0].error == {"message": "x"}


@dataclass(frozen=True)
class Pace:
    """The dispatcher's pace (services.courier.dispatcher.Pace): a long poll, so only a wake-up or
    the cancellation ends its wait."""

    pull_count: int = 10
    pull_wait: float = 30.0
    send_timeout: float = 5.0
    lease: float = 60.0
    retries: int = 3
    max_backoff: float = 60.0

    def backoff(self, send_count: int) -> float:
        return 1.0


async def test_a_dispatcher_woken_as_it_is_stopped_stops(database: Database) -> None:
    """A message queued in the same moment as the process stops (tests/stopping.py)."""

    async def send(_message: object) -> None:
        return None

    dispatcher = Dispatcher(database, REPO, send, Pace())
    stopped = await stops_when_woken_as_cancelled(dispatcher.run(), dispatcher.wake)
    assert stopped, "the dispatcher went on after it was cancelled"


async def test_a_send_that_hangs_holds_up_no_other_batch_and_is_handed_back_at_the_stop(database: Database) -> None:
    """A server stuck on one message: the next batch is claimed and sent all the same. Stopping then
    records the sends that went through and hands the stuck message back, to go again."""
    stuck = message(30)
    await insert(database, stuck, message(31))
    await insert(database, message(32), message(33))
    sent: list[str] = []
    all_but_the_stuck_one = asyncio.Event()

    async def send(m: Message) -> None:
        if m.id == stuck.id:
            await asyncio.Event().wait()  # never answered
        sent.append(m.id)
        if len(sent) == 3:
            all_but_the_stuck_one.set()

    dispatcher = Dispatcher(database, REPO, send, Pace(pull_count=2, send_timeout=60.0))
    running = asyncio.ensure_future(dispatcher.run())
    try:
        async with asyncio.timeout(10):
            await all_but_the_stuck_one.wait()
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    assert sorted(sent) == [message(n).id for n in (31, 32, 33)]
    async with database.connect() as conn:
        stored = {n: await REPO.get(conn, message(n).id) for n in (30, 31, 32, 33)}
    assert {n: m.status for n, m in stored.items() if m is not None} == {
        30: QUEUED,
        31: SENT,
        32: SENT,
        33: SENT,
    }
