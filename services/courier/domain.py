"""Courier messages and their delivery attempts, as Kratos models them (`courier/message.go`,
`courier/message_dispatch.go`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# A message's statuses are those of every row the courier sends (claims.py), under the names Kratos uses.
from services.courier.claims import ABANDONED as ABANDONED
from services.courier.claims import PROCESSING as PROCESSING
from services.courier.claims import QUEUED as QUEUED
from services.courier.claims import SENT as SENT
from services.courier.claims import STATUSES as STATUSES

EMAIL, SMS = "email", "sms"
CHANNELS = (EMAIL, SMS)
DISPATCH_FAILED, DISPATCH_SUCCESS = "failed", "success"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Dispatch:
    id: str
    message_id: str
    status: str
    error: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


@dataclass
class Message:
    id: str
    channel: str
    recipient: str
    subject: str
    body: str  # the plain-text body of an email, or the SMS text
    html_body: str | None
    template_type: str
    template_data: dict[str, Any]
    status: str = QUEUED
    send_count: int = 0
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    next_attempt_at: datetime = field(default_factory=now)
    dispatches: list[Dispatch] = field(default_factory=list)
    trace_context: str | None = None  # the trace of the request that asked for it (shared.tracing.carrier)
