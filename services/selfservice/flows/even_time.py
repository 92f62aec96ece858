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
    longest of the last `window` blocks, so both kinds end at the same moment unless one takes
    longer than all the recent ones (the first ones after start-up); the floor moves with every
    kind's times alike, and the wait is a timer, not CPU. A block counts for at most `cap` seconds:
    a stall (an interrupting web hook near its timeout, a stalled database) holds the next `window`
    answers that long at most, and however far apart answers come, the floor stays (a floor that
    aged out would leave a quiet server's answers held by the margin alone, which is what an
    attacker spacing probes would want). One per service container: the times of one process's own
    answers.
    """

    def __init__(self, margin: float = ANSWER_SECONDS, window: int = 64, cap: float = 3.0) -> None:
        self._margin = margin
        self._cap = cap
        self._recent: deque[float] = deque(maxlen=window)

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """Holds the block's end as the class says (not when it raises)."""
        started = time.monotonic()
        yield
        took = time.monotonic() - started
        self._recent.append(min(took, self._cap))
        left = max(self._recent) + self._margin - took
        if left > 0:
            await asyncio.sleep(left)
