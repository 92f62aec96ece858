"""The PostgreSQL connection pool (shared/storage/pg_pool.py) against the real server: a connection the
server dropped is replaced at the next checkout; a connection given back in the same moment as its
waiter is cancelled, or handed back inside a transaction, is not lost or handed out again; a
checkout that waits past its timeout fails with SQLAlchemy's TimeoutError; an idle connection past
its lifetime is closed and replaced, by a checkout or by a return; the pool can be closed with a
checkout waiting or a connection opening; a slot freed for a waiter is the waiter's; and, through
`Database`, a transaction or a rollback cancelled part-way leaves nothing behind that loses a later
commit or a connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from shared.storage import pg_pool
from shared.storage.database import Database
from shared.storage.pg_pool import ConnectionPool


async def _nothing(_raw: asyncpg.Connection) -> None:
    return None


@pytest.fixture
async def pool(pg_dsn: str) -> AsyncIterator[ConnectionPool]:
    opened = ConnectionPool({"dsn": pg_dsn.replace("postgresql+asyncpg://", "postgresql://")}, 1, _nothing)
    yield opened
    await opened.close()


async def _pid(raw: asyncpg.Connection) -> int:
    return int(await raw.fetchval("SELECT pg_backend_pid()"))


async def test_a_connection_the_server_dropped_is_replaced(pool: ConnectionPool, pg_dsn: str) -> None:
    raw = await pool.acquire()
    dropped = await _pid(raw)
    pool.release(raw)
    admin = await asyncpg.connect(pg_dsn.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", dropped)
        for _ in range(100):  # until the client has read the server's goodbye
            if raw.is_closed():
                break
            await asyncio.sleep(0.01)
    finally:
        await admin.close()

    again = await pool.acquire()
    assert await _pid(again) != dropped
    pool.release(again)


async def test_a_connection_given_as_its_waiter_is_cancelled_goes_to_the_next(pool: ConnectionPool) -> None:
    held = await pool.acquire()
    waiting = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0.05)  # the second checkout waits: the pool has one connection
    assert not waiting.done()
    pool.release(held)  # handed to the waiter ...
    waiting.cancel()  # ... which is cancelled in the same moment
    with pytest.raises(asyncio.CancelledError):
        await waiting
    after = await asyncio.wait_for(pool.acquire(), 5)  # the connection was not lost
    assert await after.fetchval("SELECT 1") == 1
    pool.release(after)


async def test_a_connection_given_back_inside_a_transaction_is_not_handed_out_again(pool: ConnectionPool) -> None:
    raw = await pool.acquire()
    first = await _pid(raw)
    await raw.execute("BEGIN")
    pool.release(raw)
    assert raw.is_closed()
    again = await pool.acquire()
    assert await _pid(again) != first and not again.is_in_transaction()
    pool.release(again)


async def test_a_checkout_that_waits_too_long_fails_with_a_timeout(
    pool: ConnectionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pg_pool, "ACQUIRE_TIMEOUT", 0.2)
    held = await pool.acquire()
    with pytest.raises(sa_exc.TimeoutError):
        await pool.acquire()
    pool.release(held)
    pool.release(await asyncio.wait_for(pool.acquire(), 5))  # the pool still works


async def test_closing_the_pool_fails_a_waiting_checkout(pool: ConnectionPool) -> None:
    held = await pool.acquire()
    waiting = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0.05)
    await pool.close()
    with pytest.raises(sa_exc.InterfaceError):
        await waiting
    pool.release(held)
    assert held.is_closed()


async def test_an_idle_connection_past_its_lifetime_is_closed_and_replaced(
    pool: ConnectionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pg_pool, "IDLE_LIFETIME", 0.0)
    old = await pool.acquire()
    first = await _pid(old)
    pool.release(old)
    fresh = await pool.acquire()
    assert await _pid(fresh) != first
    pool.release(fresh)
    for _ in range(100):  # closed politely, in the background
        if old.is_closed():
            break
        await asyncio.sleep(0.01)
    assert old.is_closed()


async def test_a_return_closes_the_oldest_idle_connection_once_it_has_aged_out(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a steady load that uses fewer connections than a burst opened, the burst's others are
    never checked out again: a return closes the oldest of them once it is past its lifetime."""
    pool = ConnectionPool({"dsn": pg_dsn.replace("postgresql+asyncpg://", "postgresql://")}, 2, _nothing)
    try:
        monkeypatch.setattr(pg_pool, "IDLE_LIFETIME", 0.2)
        burst, steady = await pool.acquire(), await pool.acquire()
        pool.release(burst)
        await asyncio.sleep(0.3)
        pool.release(steady)  # the burst's connection is now the oldest idle one, and aged out
        for _ in range(100):
            if burst.is_closed():
                break
            await asyncio.sleep(0.01)
        assert burst.is_closed() and not steady.is_closed()
        assert await pool.acquire() is steady
    finally:
        await pool.close()


async def test_a_slot_freed_for_a_waiter_is_not_taken_by_another_checkout(pool: ConnectionPool) -> None:
    held = await pool.acquire()
    waiting = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0.05)
    await held.execute("BEGIN")
    pool.release(held)  # let go (inside a transaction): a connection is to be opened for the waiter
    with pytest.raises(TimeoutError):  # the releasing task checks out again at once: it must wait
        async with asyncio.timeout(0.3):
            pool.release(await pool.acquire())
    pool.release(await asyncio.wait_for(waiting, 5))


async def test_closing_the_pool_fails_a_checkout_whose_connection_is_still_opening(pool: ConnectionPool) -> None:
    held = await pool.acquire()
    waiting = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0.05)
    held.terminate()
    pool.release(held)  # dropped: a new connection is opened for the waiter ...
    await asyncio.sleep(0)
    await pool.close()  # ... and the pool closes while it connects
    with pytest.raises(sa_exc.InterfaceError):
        await asyncio.wait_for(waiting, 5)


@pytest.fixture
async def one_connection(pg_dsn: str) -> AsyncIterator[Database]:
    db = Database.from_dsn(f"{pg_dsn}&max_conns=1")
    async with db.transaction() as conn:
        await conn.execute(text("CREATE TABLE written (x int)"))
        await conn.commit()
    yield db
    await db.dispose()


async def test_a_transaction_cancelled_during_its_begin_costs_no_later_commit(one_connection: Database) -> None:
    """asyncpg marks a connection as in a transaction before BEGIN is answered: reused after a
    cancelled BEGIN, its next transaction was a SAVEPOINT, whose COMMIT committed nothing."""
    db = one_connection
    cancelling = True

    def cancel_at_begin(sql: str) -> None:
        if sql == "BEGIN" and cancelling:
            current = asyncio.current_task()
            assert current is not None
            current.cancel()  # lands while BEGIN is on its way, as a client going away would

    db.round_trips.append(cancel_at_begin)

    async def write(x: int) -> None:
        async with db.transaction() as conn:
            await conn.execute(text("INSERT INTO written VALUES (:x)"), {"x": x})
            await conn.commit()

    with pytest.raises(asyncio.CancelledError):
        await asyncio.ensure_future(write(1))
    cancelling = False
    await write(2)
    async with db.read() as conn:
        assert (await conn.execute(text("SELECT x FROM written"))).scalars().all() == [2]


async def test_a_rollback_cancelled_in_turn_still_gives_the_connection_back(one_connection: Database) -> None:
    db = one_connection

    async def slow() -> None:
        async with db.connect() as conn:
            await conn.execute(text("SELECT pg_sleep(0.5)"))

    task = asyncio.ensure_future(slow())
    await asyncio.sleep(0.1)
    task.cancel()  # the client went away ...
    await asyncio.sleep(0.001)
    task.cancel()  # ... and shutdown cancels again, during the rollback
    await asyncio.gather(task, return_exceptions=True)
    async with asyncio.timeout(5):  # the pool's one connection was not lost
        async with db.read() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
