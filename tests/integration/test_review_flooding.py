"""Finding 6 of the security review: one client flooding the login with garbage must not starve a
real user. The flood gets fast refusals (503 with Retry-After) once the hashing queue is full, and
the user's check is served in its turn, ahead of the flood's queue (fair per client), with no
assertion on timing: the order in which answers come back is what shows it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.factories import ThreadedWarden, running_warden, settings_for
from tests.integration.test_review_throttling import PASSWORD, Client
from tests.metrics_helpers import scrape, total, value

FLOOD = 80


@pytest.fixture
def warden(tmp_path: Path) -> Iterator[ThreadedWarden]:
    extra = {
        "serve": {"public": {"trusted_proxies": ["127.0.0.1"]}},
        "hashers": {"algorithm": "bcrypt", "bcrypt": {"cost": 10}},  # hashing is the bottleneck here
    }
    with running_warden(settings_for(tmp_path, f"sqlite://{tmp_path}/warden.sqlite", extra)) as running:
        yield running


async def test_finding_6_a_real_users_login_is_served_while_another_client_floods(warden: ThreadedWarden) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        client = Client(http, warden)
        await client.register("real.user@example.com")
        flows = await asyncio.gather(*(client.flow(ip="203.0.113.66") for _ in range(FLOOD)))
        user_flow = await client.flow(ip="198.51.100.5")
        finished: list[tuple[str, int, float]] = []

        async def flood(i: int, flow_id: str) -> None:
            body = {"method": "password", "identifier": f"garbage-{i}@example.com", "password": "x" * 20}
            answer = await client.submit("login", flow_id, body, "203.0.113.66")
            finished.append(("flood", answer.status, time.monotonic()))
            if answer.status == 503:
                assert int(answer.headers["Retry-After"]) >= 1

        flooding = [asyncio.create_task(flood(i, f)) for i, f in enumerate(flows)]
        # The user comes once the queue is full and the flood is being shed (or, without shedding, done).
        while not any(status == 503 for _, status, _ in finished) and not all(t.done() for t in flooding):
            await asyncio.sleep(0.01)
        status = await client.login("real.user@example.com", PASSWORD, "198.51.100.5", flow_id=user_flow)
        finished.append(("user", status, time.monotonic()))
        await asyncio.gather(*flooding)

    assert status == 200, "the real user is served, not refused"
    user_at = next(i for i, (who, _, _) in enumerate(finished) if who == "user")
    checked_after_user = [s for _, s, _ in finished[user_at + 1 :]]
    flood_checked = sum(1 for who, s, _ in finished if who == "flood" and s == 400)
    shed = sum(1 for who, s, _ in finished if who == "flood" and s == 503)
    assert shed > 0 and flood_checked + shed == FLOOD
    assert any(s == 400 for s in checked_after_user), "the user's check waited for the whole flood's queue"
    metrics = scrape(warden.admin_url)  # what an operator sees of the flood
    assert value(metrics, "warden_hashing_queue_rejected_total") == shed
    assert total(metrics, "warden_hashing_queue_wait_seconds_count") >= flood_checked + 1
    assert value(metrics, "warden_hashing_queue_wait_seconds_bucket", le="+Inf") >= flood_checked + 1
