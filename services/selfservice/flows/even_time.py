"""One answer time for addresses with and without an account (account enumeration by timing).

A recovery or verification request for an address that has an account does more work than one for
an address that has none: the identity is loaded and its message built and queued. Measured in
session 33, that made the answer 0.4–1.1 ms slower at the median on SQLite and PostgreSQL, enough to
tell the two apart over a few hundred tries (`bench/enumeration.py`). Both answers are therefore held
until the same moment after the send began (what comes before it is the same for both): whatever the
send took below that, the requester sees the same wait. The wait is a timer, not CPU, and a user does not notice
a twentieth of a second on a form that sends a mail.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

# Longer than the work takes on a busy machine (4–10 ms here), so both answers wait, and short enough
# not to matter to a person.
ANSWER_SECONDS = 0.05


@asynccontextmanager
async def answered_no_sooner_than(seconds: float = ANSWER_SECONDS) -> AsyncIterator[None]:
    """Holds the block's end until `seconds` after it began (not when it raises)."""
    started = time.monotonic()
    yield
    left = seconds - (time.monotonic() - started)
    if left > 0:
        await asyncio.sleep(left)


class SlowestRecent:
    """Holds every answer until the slowest of the recent ones (this one included) plus a margin.

    For work whose cost nobody can bound in advance: a registration pays a password hash, whose time
    depends on the configured hasher and the machine's load, and a new account then writes more
    than a stand-in for an existing one does (registration/existing_account.py: 1.5 ms more at the
    median on PostgreSQL, measured with `bench/enumeration.py --flow registration`). A fixed wait
    shorter than the hash would hide nothing. Each answer instead waits until `margin` past the
    longest of the recent blocks (the last `window`, none older than `max_age` seconds), so both
    kinds end at the same moment unless one takes longer than all the recent ones (the first ones
    after start-up, a stall); the floor moves with every kind's times alike, and the wait is a
    timer, not CPU. The price: one slow answer (an interrupting web hook near its timeout, a stalled
    database) makes the answers of the next `max_age` seconds wait as long, with no CPU spent on the
    wait; a count alone would let it hold a quiet server's answers for hours. One per service
    container: the times of one process's own answers.
    """

    def __init__(self, margin: float = ANSWER_SECONDS, window: int = 64, max_age: float = 60.0) -> None:
        self._margin = margin
        self._max_age = max_age
        self._recent: deque[tuple[float, float]] = deque(maxlen=window)  # (when it ended, how long it took)

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """Holds the block's end as the class says (not when it raises)."""
        started = time.monotonic()
        yield
        ended = time.monotonic()
        took = ended - started
        while self._recent and self._recent[0][0] < ended - self._max_age:
            self._recent.popleft()
        self._recent.append((ended, took))
        left = max(t for _, t in self._recent) + self._margin - took
        if left > 0:
            await asyncio.sleep(left)
