"""The revocation feed behind gRPC `WatchRevocations`: every process that serves the session gRPC
API hears every revocation, whichever process made it, and hands it to its watchers.

Why the bus and not Redis pub/sub: every revocation already writes `session.revoked` to the session
service's outbox in the same transaction that deactivates the session, and the relay is woken by the
commit, so the event is on the broker within milliseconds and is not lost if the broker blips (the
relay publishes it when the broker returns). A Redis PUBLISH would be a second, separate write after
the commit that a Redis hiccup silently drops, and the embedded mode (no Redis) would need a third
mechanism; the in-memory bus already carries the same events there. Each process listens on a
transient queue of its own (exclusive, deleted with its connection), so every replica gets a copy.

Identity events are passed on too, as revocations of every session of the identity (`session_id`
empty): a deleted identity's sessions are gone, and a changed identity's checked sessions carry
stale traits or state, so a client's cache must forget them either way.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from shared.bus.envelope import Envelope
from shared.bus.events import IDENTITY_DELETED, IDENTITY_UPDATED, SESSION_REVOKED
from shared.bus.ports import Subscription

REVOKED = SESSION_REVOKED.name
IDENTITY_EVENTS = (IDENTITY_UPDATED.name, IDENTITY_DELETED.name)
# Revocations a watcher may have waiting; one that falls further behind is ended, not skipped.
MAX_PENDING = 1000


@dataclass(frozen=True)
class Revocation:
    session_id: str  # empty: every session of the identity
    identity_id: str
    revoked_at: datetime


class Overflow(Exception):
    """The watcher fell MAX_PENDING revocations behind: it must start over and forget its cache."""


class _Watcher:
    def __init__(self, identity_id: str | None) -> None:
        self.identity_id = identity_id
        # None wakes the reader to end the stream: with Overflow if it fell behind, else cleanly.
        self.queue: asyncio.Queue[Revocation | None] = asyncio.Queue(MAX_PENDING + 1)
        self.overflowed = False

    def end(self) -> None:
        if not self.queue.full():
            self.queue.put_nowait(None)

    def offer(self, revocation: Revocation) -> None:
        if self.overflowed or (self.identity_id and revocation.identity_id != self.identity_id):
            return
        if self.queue.qsize() >= MAX_PENDING:
            self.overflowed = True
            self.queue.put_nowait(None)  # the one slot kept free for it
            return
        self.queue.put_nowait(revocation)


class RevocationFeed:
    def __init__(self) -> None:
        self._watchers: set[_Watcher] = set()

    def subscription(self) -> Subscription:
        """This process's own transient queue (a fresh name per process: every replica gets a copy)."""
        queue = f"session.revocations.{uuid.uuid4().hex}"
        return Subscription(queue, [REVOKED, *IDENTITY_EVENTS], self._deliver, transient=True)

    async def _deliver(self, envelope: Envelope) -> None:
        identity_id = str(envelope.data.get("identity_id") or "")
        if not identity_id:
            return
        session_id = str(envelope.data.get("session_id") or "") if envelope.type == REVOKED else ""
        revocation = Revocation(session_id, identity_id, envelope.occurred_at)
        for watcher in list(self._watchers):
            watcher.offer(revocation)

    def close(self) -> None:
        """Ends every watcher's stream (the process is stopping; clients reconnect elsewhere)."""
        for watcher in self._watchers:
            watcher.end()

    @asynccontextmanager
    async def watch(self, identity_id: str | None = None) -> AsyncIterator[AsyncIterator[Revocation]]:
        watcher = _Watcher(identity_id or None)
        self._watchers.add(watcher)
        try:
            yield _follow(watcher)
        finally:
            self._watchers.discard(watcher)


async def _follow(watcher: _Watcher) -> AsyncIterator[Revocation]:
    while True:
        revocation = await watcher.queue.get()
        if watcher.overflowed:
            raise Overflow()
        if revocation is None:
            return
        yield revocation
