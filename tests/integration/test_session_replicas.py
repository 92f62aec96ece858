"""Two replicas of `warden serve` on one database, each with its own in-process cache and bus (the
defaults): a session ended through one, or an identity disabled or deleted through one, is refused
by the other within a couple of seconds, not served from that replica's cache until
`cache.session_ttl` (5 minutes) passes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import urllib3
from sqlalchemy import MetaData, insert

from services.session.cache_drops import CacheDrops
from services.session.domain import now
from services.session.tables import session_tables
from shared.bus.outbox import Outbox
from shared.storage import migrations
from shared.storage.database import Database
from shared.storage.tables import outbox_table
from shared.storage.uow import UnitOfWorkFactory
from tests.conftest import _fresh_pg_database, require_server
from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import PASSWORD, create_identity, selfservice_settings
from warden.services import SERVICES

# A replica hears of the other's drops within a second (its poll), plus a test's scheduling slack.
NOTICED_WITHIN_SECONDS = 3.0


@pytest.fixture(scope="module")
def dsn() -> Iterator[str]:
    require_server("PostgreSQL", "127.0.0.1", 5432)
    yield from _fresh_pg_database()


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory, dsn: str) -> Iterator[tuple[ThreadedWarden, ...]]:
    first = selfservice_settings(tmp_path_factory.mktemp("a"), dsn)
    second = selfservice_settings(tmp_path_factory.mktemp("b"), dsn)
    assert first.cache.url == second.cache.url == "memory"
    with running_warden(first) as a, running_warden(second) as b:
        yield a, b


def _signed_in(warden: ThreadedWarden, email: str) -> tuple[str, str]:
    """A new identity signed in through `warden`'s native login: (identity id, session token)."""
    identity_id = create_identity(warden.admin_url, email)
    flow = json.loads(urllib3.request("GET", f"{warden.public_url}/self-service/login/api").data)
    answer = urllib3.request(
        "POST",
        f"{warden.public_url}/self-service/login?flow={flow['id']}",
        json={"method": "password", "identifier": email, "password": PASSWORD},
    )
    assert answer.status == 200, answer.data
    return identity_id, json.loads(answer.data)["session_token"]


def _whoami(warden: ThreadedWarden, token: str) -> int:
    return urllib3.request("GET", f"{warden.public_url}/sessions/whoami", headers={"X-Session-Token": token}).status


def _refused_soon(warden: ThreadedWarden, token: str) -> bool:
    deadline = time.monotonic() + NOTICED_WITHIN_SECONDS
    while time.monotonic() < deadline:
        if _whoami(warden, token) == 401:
            return True
        time.sleep(0.1)
    return False


def test_a_session_logged_out_through_one_replica_is_refused_by_the_other(
    replicas: tuple[ThreadedWarden, ThreadedWarden],
) -> None:
    a, b = replicas
    _, token = _signed_in(a, "replica-logout@example.com")
    assert _whoami(b, token) == 200  # now in b's cache
    logout = urllib3.request("DELETE", f"{a.public_url}/self-service/logout/api", json={"session_token": token})
    assert logout.status == 204
    assert _whoami(a, token) == 401
    assert _refused_soon(b, token), "the other replica still answers whoami from its cache"


@pytest.mark.parametrize("change", ["disable", "delete"])
def test_an_identity_disabled_or_deleted_through_one_replica_is_refused_by_the_other(
    replicas: tuple[ThreadedWarden, ThreadedWarden], change: str
) -> None:
    a, b = replicas
    identity_id, token = _signed_in(a, f"replica-{change}@example.com")
    assert _whoami(b, token) == 200
    url = f"{a.admin_url}/admin/identities/{identity_id}"
    if change == "disable":
        patch = [{"op": "replace", "path": "/state", "value": "inactive"}]
        assert urllib3.request("PATCH", url, json=patch).status == 200
    else:
        assert urllib3.request("DELETE", url).status == 204
    assert _whoami(a, token) == 401
    assert _refused_soon(b, token), "the other replica still answers whoami from its cache"


async def test_a_drop_committed_after_a_later_one_was_read_is_still_read(tmp_path: Path) -> None:
    """Positions are taken in one order and committed in another: a drop whose position is below
    one already read (its insert was slower to commit) is found at a later poll, not skipped."""
    database = Database.from_dsn(f"sqlite://{tmp_path}/sessions.sqlite")
    await migrations.upgrade(database, next(s.migrations for s in SERVICES if s.name == "session"))
    metadata = MetaData()
    uow = UnitOfWorkFactory(database, Outbox(outbox_table(metadata, "session")), "session")
    table = session_tables(metadata).cache_drops
    drops = CacheDrops(uow, table)
    try:
        await drops.start()
        await drops.record(["a" * 64])
        async with database.read() as conn:  # position 3 committed before position 2
            await conn.execute(insert(table).values(position=3, token_hash="c" * 64, dropped_at=now()))
        assert await drops.new() == ["a" * 64, "c" * 64]
        async with database.read() as conn:
            await conn.execute(insert(table).values(position=2, token_hash="b" * 64, dropped_at=now()))
        await drops.record(["d" * 64])
        assert await drops.new() == ["b" * 64, "d" * 64]
        assert await drops.new() == []
    finally:
        await database.dispose()


async def test_a_drop_after_the_old_ones_were_forgotten_is_still_read(tmp_path: Path) -> None:
    """SQLite numbers a row one past the highest row left (no AUTOINCREMENT): once `forget` has
    deleted every drop (a quiet quarter of an hour), the next drop would take a position every
    process has read past already, and none of them would drop it. The newest position is kept."""
    database = Database.from_dsn(f"sqlite://{tmp_path}/sessions.sqlite")
    await migrations.upgrade(database, next(s.migrations for s in SERVICES if s.name == "session"))
    metadata = MetaData()
    uow = UnitOfWorkFactory(database, Outbox(outbox_table(metadata, "session")), "session")
    drops = CacheDrops(uow, session_tables(metadata).cache_drops)
    try:
        await drops.start()
        await drops.record(["a" * 64, "b" * 64])
        assert await drops.new() == ["a" * 64, "b" * 64]
        await drops.forget(now() + timedelta(hours=1))  # every drop is old enough to go
        await drops.record(["c" * 64])
        assert await drops.new() == ["c" * 64]
    finally:
        await database.dispose()
