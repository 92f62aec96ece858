"""How long a request may still take, and whether its caller is still there (finding 6 of the
security review): expensive work (a password hash) is skipped for a caller that has gone or whose
deadline has passed, instead of being done for nobody.

The deadline travels between services as `X-Warden-Deadline` (Unix time, seconds), set by the
internal client from its own timeout and read only on internal paths (whose callers present the
internal token); a public request has the deadline of its own connection's life.
"""

from __future__ import annotations

import asyncio
import time
from contextvars import ContextVar

from aiohttp import web

DEADLINE_HEADER = "X-Warden-Deadline"


class Budget:
    """A request's deadline (Unix time, None for none) and the connection that tells whether its
    caller has gone (None: nothing to watch). A plain class: one is made for every request, and
    most are never read."""

    __slots__ = ("deadline", "_connection")

    def __init__(self, deadline: float | None, connection: asyncio.BaseTransport | None = None) -> None:
        self.deadline = deadline
        self._connection = connection

    def gone(self) -> bool:
        return self._connection is not None and self._connection.is_closing()

    def expired(self) -> bool:
        return self.gone() or (self.deadline is not None and time.time() >= self.deadline)


UNLIMITED = Budget(None)
budget: ContextVar[Budget] = ContextVar("budget", default=UNLIMITED)


def _deadline(request: web.Request) -> float | None:
    if not request.path.startswith("/internal/"):
        return None
    try:
        return float(request.headers.get(DEADLINE_HEADER, ""))
    except ValueError:
        return None


def budget_for(request: web.Request) -> Budget:
    """The budget of a request (the request kernel sets it in `budget` for the request's life)."""
    connection = request.transport
    if connection is None:  # the caller has gone already
        return Budget(0.0)
    return Budget(_deadline(request), connection)
