"""Finding 1 of the security review: a whoami that read a session (or its identity) from the
database just before a revocation (or an identity change) must not write it back into the cache
after the revocation dropped it. Bursts of concurrent whoamis race each revocation, on the
in-process cache over SQLite and on Redis over PostgreSQL; not one stale session may survive."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import eventually
from tests.factories import ThreadedWarden, running_warden
from tests.integration.test_session_faults import Api, api_for, warden_settings

TRIALS = 20
BURST = 12


@pytest.fixture(params=["memory-sqlite", "redis-postgres"])
def warden(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ThreadedWarden]:
    if request.param == "memory-sqlite":
        dsn, cache_url, prefix = f"sqlite://{tmp_path}/warden.sqlite", "memory", "warden:"
    else:
        dsn = request.getfixturevalue("pg_dsn")
        cache_url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
    with running_warden(warden_settings(tmp_path, dsn, cache_url, prefix)) as running:
        yield running


async def _burst_around(api: Api, token: str, change: asyncio.Future[None] | None = None) -> None:
    """BURST whoamis at once, the change in the middle of them."""
    first = [asyncio.create_task(api.whoami(token)) for _ in range(BURST // 2)]
    await asyncio.sleep(0)
    changed = asyncio.ensure_future(change) if change is not None else None
    rest = [asyncio.create_task(api.whoami(token)) for _ in range(BURST - BURST // 2)]
    await asyncio.gather(*first, *rest, *([changed] if changed else []))


async def test_finding_1_a_revoked_session_never_comes_back_from_the_cache(warden: ThreadedWarden) -> None:
    stale = 0
    async with aiohttp.ClientSession() as http:
        api = api_for(http, warden)
        identity_id = await api.create_identity()
        for _ in range(TRIALS):
            session_id, token = await api.issue(identity_id)
            await _burst_around(api, token, api.revoke(session_id))
            stale += await api.whoami_status(token) != 401
    assert stale == 0, f"{stale} of {TRIALS} revoked sessions were answered 200 from the cache"


async def test_finding_1_an_identity_change_is_never_undone_by_a_whoami_that_read_it_before(
    warden: ThreadedWarden,
) -> None:
    stale = 0
    async with aiohttp.ClientSession() as http:
        api = api_for(http, warden)
        for _ in range(TRIALS):
            identity_id = await api.create_identity()
            _, token = await api.issue(identity_id)
            await _burst_around(api, token, api.set_state_patch(identity_id, "inactive"))
            try:
                await eventually(lambda t=token: _refused(api, t), timeout=3)
            except AssertionError:
                stale += 1
    assert stale == 0, f"{stale} of {TRIALS} deactivated identities kept a cached session"


async def _refused(api: Api, token: str) -> bool:
    return await api.whoami_status(token) == 401
