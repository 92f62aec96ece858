"""The delivery loop, for courier messages and for web hook deliveries alike: every `pull_wait` (or
at once when something is queued here) it claims up to `pull_count` due rows and sends them side by
side. After a full batch it claims the next at once, with up to `BATCHES_IN_FLIGHT` on their way.

A failed send is recorded (with the error) and the row waits `backoff(tries)` before it is due
again, or longer if the receiver said so (`Retry-After`); past `retries` retries it is `abandoned`.
One row failing never holds up another: each has its own send and its own outcome. A batch is
claimed in one statement and its outcomes recorded in one transaction (row by row if that fails), not
one per row: on a busy machine every round trip to the database costs a wake-up of both sides.
No transaction is held open while a row is on its way (SQLite has one writer; a slow server must
not block it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from opentelemetry.instrumentation.utils import suppress_instrumentation

from services.courier.claims import ABANDONED, QUEUED, SENT
from services.courier.domain import now
from shared.storage.database import Database
from shared.tracing import carrier
from shared.tracing.spans import tracer

log = logging.getLogger(__name__)

# Batches on their way at once. One alone left every connection idle from its first send's end to
# its slowest send's end, and then through the recording and the next claim: a courier sent 178
# messages/s with 40% of a 2-core machine idle. With two, the next batch's sends are queued for the
# connections as this batch's free them.
BATCHES_IN_FLIGHT = 2


class Sendable(Protocol):
    id: str
    send_count: int
    trace_context: str | None


class Claims(Protocol):
    """What the loop needs of a repository (`claims.ClaimQueue` does the SQL)."""

    async def claim_due(self, conn: Any, at: datetime, limit: int, lease: timedelta, token: str) -> list[Any]: ...

    async def finish(
        self,
        conn: Any,
        item: Any,
        token: str,
        at: datetime,
        *,
        error: dict[str, Any] | None,
        status: str,
        next_attempt_at: datetime | None = None,
    ) -> bool: ...

    async def finish_sent(self, conn: Any, items: list[Any], token: str, at: datetime) -> set[str]:
        """Records a batch of successful attempts at once; the ids whose claim still held."""
        ...

    async def release(self, conn: Any, row_id: str, token: str, at: datetime) -> None: ...


class Outcomes(Protocol):
    """Told how each attempt ended (metrics)."""

    def sent(self, item: Any) -> None: ...

    def failed(self, item: Any) -> None: ...

    def abandoned(self, item: Any) -> None: ...


class Uncounted:
    def sent(self, item: Any) -> None:
        pass

    def failed(self, item: Any) -> None:
        pass

    def abandoned(self, item: Any) -> None:
        pass


@dataclass(frozen=True)
class Outcome:
    """How one attempt went: the status to record, the error, and when to try again."""

    status: str
    error: dict[str, Any] | None = None
    retry_in: float | None = None


class Pace(Protocol):
    @property
    def pull_count(self) -> int: ...
    @property
    def pull_wait(self) -> float: ...
    @property
    def send_timeout(self) -> float: ...
    @property
    def lease(self) -> float: ...
    @property
    def retries(self) -> int: ...
    @property
    def max_backoff(self) -> float: ...

    def backoff(self, send_count: int) -> float: ...


class Dispatcher:
    def __init__(
        self,
        database: Database,
        repository: Claims,
        send: Callable[[Any], Awaitable[None]],
        config: Pace,
        *,
        noun: str = "message",
        outcomes: Outcomes | None = None,
    ) -> None:
        self._db = database
        self._repo = repository
        self._send = send
        self._config = config
        self._noun = noun
        self._outcomes = outcomes or Uncounted()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A message was queued in this process: look now instead of at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        batches: set[asyncio.Future[None]] = set()
        try:
            while True:
                if len(batches) >= BATCHES_IN_FLIGHT:
                    await asyncio.wait(batches, return_when=asyncio.FIRST_COMPLETED)
                try:
                    claimed = await self._claim_batch(batches)
                except asyncio.CancelledError:
                    raise
                except Exception:  # the database is away, most likely: keep the loop alive and try again
                    log.exception("courier: dispatching failed; trying again in %.1fs", self._config.pull_wait)
                    claimed = 0
                if claimed < self._config.pull_count:  # all that was due is claimed (a full batch may
                    await self._sleep()  # have more behind it: that is claimed at once)
        finally:
            # Stopping: each batch records what went through and hands back what did not (`_send_all`).
            for batch in batches:
                batch.cancel()
            await asyncio.gather(*batches, return_exceptions=True)

    async def _claim_batch(self, batches: set[asyncio.Future[None]]) -> int:
        """Claims what is due and starts sending it, without waiting for the sends; returns how many
        messages it claimed."""
        claimed, token = await self._claim()
        if claimed:
            batch = asyncio.ensure_future(self._send_all(claimed, token))
            batches.add(batch)
            batch.add_done_callback(batches.discard)
        return len(claimed)

    async def _send_all(self, claimed: list[Sendable], token: str) -> None:
        attempts = [asyncio.ensure_future(self._attempt(m, token)) for m in claimed]
        try:
            await asyncio.gather(*attempts)
        except asyncio.CancelledError:
            # The process is stopping. Sends still on their way handed their message back; those
            # that went through are recorded now, or their lease would bring them back to be sent again.
            done = [(m, a.result()) for m, a in zip(claimed, attempts) if a.done() and not a.cancelled()]
            await asyncio.shield(self._record(done, token))
            raise
        await self._record([(m, a.result()) for m, a in zip(claimed, attempts)], token)

    async def _sleep(self) -> None:
        # asyncio.timeout, not wait_for: Python 3.11's wait_for returns the result when the wait ends
        # in the same moment as the task is cancelled (a message queued as the process stops), and
        # the cancellation is lost: the loop went on and the process never stopped.
        try:
            async with asyncio.timeout(self._config.pull_wait):
                await self._wake.wait()
        except TimeoutError:
            pass
        self._wake.clear()

    @contextlib.asynccontextmanager
    async def _bookkeeping(self) -> AsyncIterator[Any]:
        """A transaction of the loop's own (a claim, a batch's record, a hand-back): no one's journey,
        so none of its statements starts a trace of its own (a send is a span of its message's)."""
        with suppress_instrumentation():
            async with self._db.transaction() as conn:
                yield conn

    async def _claim(self) -> tuple[list[Sendable], str]:
        token = str(uuid.uuid4())
        lease = timedelta(seconds=self._config.lease)
        with suppress_instrumentation():  # a poll is no one's journey (`_bookkeeping`)
            async with self._db.read() as conn:  # one statement, committed on its own
                return await self._repo.claim_due(conn, now(), self._config.pull_count, lease, token), token

    async def _attempt(self, message: Sendable, token: str) -> Outcome:
        try:
            with carrier.resumed(message.trace_context) as traced:
                async with asyncio.timeout(self._config.send_timeout):  # not wait_for: see `_sleep`
                    await (self._traced_send(message) if traced else self._send(message))
        except asyncio.CancelledError:
            # The process is stopping: hand the message back now rather than when the lease runs out.
            await asyncio.shield(self._release(message, token))
            raise
        except Exception as exc:  # whatever a channel raises, the attempt failed: record it, keep going
            self._outcomes.failed(message)
            return self._failed(message, exc)
        self._outcomes.sent(message)
        return Outcome(SENT)

    async def _traced_send(self, message: Sendable) -> None:
        """The send as a span of the trace that queued the message (whose claim made none: polls are
        no one's journey)."""
        attributes: dict[str, str | int] = {
            "warden.courier.message_id": message.id,
            "warden.courier.send_count": message.send_count,
        }
        with tracer("warden.courier").start_as_current_span(f"courier send {self._noun}", attributes=attributes):
            await self._send(message)

    def _failed(self, message: Sendable, exc: Exception) -> Outcome:
        tries = message.send_count + 1
        error = {"code": 500, "status": "Internal Server Error", "message": _describe(exc)}
        if tries > self._config.retries:
            log.warning(
                "courier: %s %s abandoned after %d attempts: %s", self._noun, message.id, tries, error["message"]
            )
            self._outcomes.abandoned(message)
            return Outcome(ABANDONED, error)
        delay = self._config.backoff(tries)
        asked = getattr(exc, "retry_after", None)  # the receiver's Retry-After, honoured up to max_backoff
        if asked:
            delay = max(delay, min(float(asked), self._config.max_backoff))
        log.warning(
            "courier: sending %s %s failed (attempt %d), next try in %.1fs: %s",
            self._noun,
            message.id,
            tries,
            delay,
            error["message"],
        )
        return Outcome(QUEUED, error, delay)

    async def _record(self, attempts: list[tuple[Sendable, Outcome]], token: str) -> None:
        """Records a batch's attempts in one transaction, the sent ones in two statements for them
        all; if that fails, each in its own, so that one row that cannot be written does not cost
        the others their record."""
        if not attempts:
            return
        sent = [m for m, outcome in attempts if outcome.status == SENT]
        try:
            async with self._bookkeeping() as conn:
                kept = await self._repo.finish_sent(conn, sent, token, now()) if sent else set()
                lost = [m for m in sent if m.id not in kept]
                for message, outcome in attempts:
                    if outcome.status != SENT and not await self._finish(conn, message, token, outcome):
                        lost.append(message)
        except Exception:
            lost = []
            for message, outcome in attempts:
                try:
                    async with self._bookkeeping() as conn:
                        if not await self._finish(conn, message, token, outcome):
                            lost.append(message)
                except Exception as exc:  # the lease brings it back
                    log.error("courier: recording the attempt on %s %s failed: %r", self._noun, message.id, exc)
        for message in lost:
            log.warning("courier: %s %s was taken over by another courier while it was sent", self._noun, message.id)

    async def _finish(self, conn: Any, message: Sendable, token: str, outcome: Outcome) -> bool:
        at = now()
        next_attempt = at + timedelta(seconds=outcome.retry_in) if outcome.retry_in is not None else None
        return await self._repo.finish(
            conn, message, token, at, error=outcome.error, status=outcome.status, next_attempt_at=next_attempt
        )

    async def _release(self, message: Sendable, token: str) -> None:
        try:
            async with self._bookkeeping() as conn:
                await self._repo.release(conn, message.id, token, now())
        except Exception:  # the lease brings it back all the same
            log.warning("courier: could not hand back %s %s on the way out", self._noun, message.id)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "the delivery timed out"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
