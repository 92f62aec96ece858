"""A change to a session (a second factor added) is written from the session as it was read, and an
extension is one conditional UPDATE; a revocation that commits in between must win, on both engines.
Before, the write put back the whole row read earlier, `active` included, and a review saw 38 of 150
sessions revoked during an extension answer whoami with 200 afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import MetaData

from services.session.domain import AuthenticationMethod, Session, now
from services.session.persistence import SessionRepository
from services.session.tables import session_tables
from shared.storage import migrations
from shared.storage.database import Database
from warden.services import by_name


@pytest.fixture
async def sessions(any_dsn: str) -> AsyncIterator[tuple[Database, SessionRepository]]:
    db = Database.from_dsn(any_dsn)
    await migrations.upgrade(db, by_name("session").migrations)
    yield db, SessionRepository(session_tables(MetaData()))
    await db.dispose()


async def _issued(db: Database, repo: SessionRepository) -> Session:
    session = Session(identity_id="identity-1", token_hash="a" * 64, expires_at=now() + timedelta(hours=1))
    async with db.transaction() as conn:
        for statement, values in repo.inserts(session):
            await conn.execute(statement, values)
        await conn.commit()
    return session


async def _read(db: Database, repo: SessionRepository, session_id: str) -> Session:
    async with db.read() as conn:
        found = await repo.get(conn, session_id)
    assert found is not None
    return found


async def test_a_method_added_from_a_read_before_a_revocation_does_not_bring_the_session_back(
    sessions: tuple[Database, SessionRepository],
) -> None:
    db, repo = sessions
    issued = await _issued(db, repo)
    read = await _read(db, repo, issued.id)
    async with db.transaction() as conn:  # the revocation commits after the change was read
        await repo.deactivate(conn, [issued.id])
        await conn.commit()
    changed = read.with_method(AuthenticationMethod("totp", "aal2", now()), timedelta(hours=1))
    async with db.transaction() as conn:
        assert not await repo.save(conn, changed)
        await conn.commit()
    after = await _read(db, repo, issued.id)
    assert after.active is False
    assert (after.expires_at, after.authentication_methods) == (read.expires_at, read.authentication_methods)


async def test_a_change_to_an_active_session_is_written(sessions: tuple[Database, SessionRepository]) -> None:
    db, repo = sessions
    read = await _read(db, repo, (await _issued(db, repo)).id)
    method = AuthenticationMethod("totp", "aal2", now())
    async with db.transaction() as conn:
        assert await repo.save(conn, read.with_method(method, timedelta(hours=2)))
        await conn.commit()
    assert (await _read(db, repo, read.id)).expires_at > read.expires_at + timedelta(minutes=30)


async def _extend(db: Database, repo: SessionRepository, session_id: str, ends_before: timedelta | None) -> str | None:
    async with db.transaction() as conn:
        digest = await repo.extend(
            conn, session_id, now() + timedelta(hours=2), None if ends_before is None else now() + ends_before
        )
        await conn.commit()
    return digest


async def test_an_extension_writes_only_an_active_session_s_expiry(
    sessions: tuple[Database, SessionRepository],
) -> None:
    """The extension is one conditional UPDATE (no read first): a session revoked before it stays as
    it was, and one ending later than the earliest possible extension is not written."""
    db, repo = sessions
    issued = await _issued(db, repo)  # ends in an hour
    assert await _extend(db, repo, issued.id, ends_before=timedelta(minutes=30)) is None, "too early"
    assert (await _read(db, repo, issued.id)).expires_at == issued.expires_at
    assert await _extend(db, repo, issued.id, ends_before=timedelta(hours=1, minutes=1)) == issued.token_hash
    extended = await _read(db, repo, issued.id)
    assert extended.expires_at > issued.expires_at + timedelta(minutes=30)
    assert extended.devices == issued.devices and extended.authentication_methods == issued.authentication_methods

    async with db.transaction() as conn:
        await repo.deactivate(conn, [issued.id])
        await conn.commit()
    assert await _extend(db, repo, issued.id, ends_before=None) is None
    after = await _read(db, repo, issued.id)
    assert after.active is False and after.expires_at == extended.expires_at

    async with db.read() as conn:
        assert await repo.exists(conn, issued.id)
        assert not await repo.exists(conn, "00000000-0000-4000-8000-000000000000")
