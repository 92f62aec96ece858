"""A web hook delivery: one HTTP call the courier makes until it is answered 2xx or abandoned."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.courier.claims import QUEUED
from services.courier.domain import now

WEB_HOOK, EVENT = "web_hook", "event"


@dataclass
class Delivery:
    id: str  # the Idempotency-Key (and, for events, webhook-id)
    kind: str  # WEB_HOOK or EVENT
    target: str  # the hook's config key, or the subscription's id
    url: str
    method: str
    body: str | None
    event_type: str | None = None
    status: str = QUEUED
    send_count: int = 0
    last_error: str | None = None
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    next_attempt_at: datetime = field(default_factory=now)
    trace_context: str | None = None  # the trace of the flow or event that asked for it (shared.tracing.carrier)
