"""How long a request may still take, and whether its caller is still there (finding 6 of the
security review): expensive work (a password hash) is skipped for a caller that has gone or whose
deadline has passed, instead of being done for nobody.

The deadline travels between services as `X-Warden-Deadline` (Unix time, seconds), set by the
internal client from its own timeout and read only on internal paths (whose callers present the
internal token); a public request has the deadline of its own connection's life.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from aiohttp import web

DEADLINE_HEADER = "X-Warden-Deadline"


@dataclass(frozen=True)
class Budget:
    deadline: float | None  # Unix time
    gone: Callable[[], bool]

    def expired(self) -> bool:
        return self.gone() or (self.deadline is not None and time.time() >= self.deadline)


UNLIMITED = Budget(None, lambda: False)
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
    transport = request.transport

    def gone() -> bool:
        return transport is None or transport.is_closing()

    return Budget(_deadline(request), gone)
