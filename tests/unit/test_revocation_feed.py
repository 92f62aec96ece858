"""The revocation feed behind WatchRevocations: filtering by identity, identity events as
revocations of every session, a watcher that falls behind is ended rather than skipped, and closing
ends every stream."""

from __future__ import annotations

import asyncio

import pytest

from services.session import revocations
from services.session.revocations import Overflow, RevocationFeed
from shared.bus.envelope import Envelope


def event(kind: str, **data: str) -> Envelope:
    return Envelope(type=kind, source="test", data=dict(data))


async def test_filters_by_identity_and_turns_identity_events_into_revocations_of_every_session() -> None:
    feed = RevocationFeed()
    deliver = feed.subscription().handler
    async with feed.watch("ada") as mine, feed.watch() as everyone:
        await deliver(event("session.revoked", session_id="s1", identity_id="bob"))
        await deliver(event("session.revoked", session_id="s2", identity_id="ada"))
        await deliver(event("identity.deleted", identity_id="ada"))
        await deliver(event("session.revoked", session_id="s3"))  # no identity: not a revocation to pass on
        got = [await anext(mine), await anext(mine)]
        assert [(r.session_id, r.identity_id) for r in got] == [("s2", "ada"), ("", "ada")]
        got = [await anext(everyone) for _ in range(3)]
        assert [r.session_id for r in got] == ["s1", "s2", ""]


async def test_a_watcher_that_falls_behind_is_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(revocations, "MAX_PENDING", 3)
    feed = RevocationFeed()
    deliver = feed.subscription().handler
    async with feed.watch() as slow:
        for n in range(5):
            await deliver(event("session.revoked", session_id=f"s{n}", identity_id="ada"))
        with pytest.raises(Overflow):
            await anext(slow)


async def test_closing_ends_every_stream_and_each_process_gets_its_own_transient_queue() -> None:
    feed = RevocationFeed()
    first, second = feed.subscription(), feed.subscription()
    assert first.transient and first.queue != second.queue
    async with feed.watch() as stream:
        waiting = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)
        feed.close()
        with pytest.raises(StopAsyncIteration):
            await waiting
