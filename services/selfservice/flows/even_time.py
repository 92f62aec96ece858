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
