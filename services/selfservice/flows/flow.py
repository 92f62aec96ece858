"""What every self-service flow has (Kratos's `selfservice/flow`): ids, lifetimes, the request it
came from, the UI, and the CSRF token it is bound to. Each flow package adds its own fields."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.selfservice.flows.ui import Container

BROWSER, API = "browser", "api"


def now() -> datetime:
    return datetime.now(UTC)


def ts(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@dataclass
class Flow:
    kind: str  # login, registration, settings, recovery, verification
    type: str  # browser or api
    request_url: str
    ui: Container
    expires_at: datetime
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    issued_at: datetime = field(default_factory=now)
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    return_to: str | None = None
    state: str = "choose_method"
    active: str | None = None
    csrf_token: str = ""  # never in the flow's JSON: the UI gets it in the csrf_token node
    fields: dict[str, Any] = field(default_factory=dict)  # the flow kind's own JSON fields
    internal: dict[str, Any] = field(default_factory=dict)  # server-side state, never sent
    # Native social sign-in: shown once, in the answer that creates the flow; only its hash is stored.
    session_token_exchange_code: str | None = None
    # The submitted body's `transient_payload`: handed to web hooks, never stored or sent back.
    transient_payload: Any = field(default=None, compare=False)
    # The stored body this copy was loaded from, or last wrote (persistence.py): an answer to a
    # refused submission is saved only over it, never over what a concurrent submission stored since.
    stored: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def new(cls, kind: str, flow_type: str, request_url: str, action_base: str, lifespan: timedelta, **kw: Any) -> Flow:
        flow_id = str(uuid.uuid4())
        ui = Container(action=f"{action_base.rstrip('/')}/self-service/{kind}?flow={flow_id}")
        return cls(
            kind=kind, type=flow_type, request_url=request_url, ui=ui, expires_at=now() + lifespan, id=flow_id, **kw
        )

    @property
    def is_browser(self) -> bool:
        return self.type == BROWSER

    def expired(self, at: datetime | None = None) -> bool:
        return (at or now()) >= self.expires_at

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "expires_at": ts(self.expires_at),
            "issued_at": ts(self.issued_at),
            "request_url": self.request_url,
            "ui": self.ui.to_json(),
            "state": self.state,
            "created_at": ts(self.created_at),
            "updated_at": ts(self.updated_at),
            **self.fields,
        }
        if self.return_to:
            body["return_to"] = self.return_to
        if self.active:
            body["active"] = self.active
        if self.session_token_exchange_code:
            body["session_token_exchange_code"] = self.session_token_exchange_code
        return body

    def to_record(self) -> dict[str, Any]:
        """Everything, secrets included, for storage."""
        shown = self.to_json()
        shown.pop("session_token_exchange_code", None)
        return {
            **shown,
            "kind": self.kind,
            "csrf_token": self.csrf_token,
            "internal": self.internal,
            "fields": self.fields,
        }

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Flow:
        return cls(
            kind=data["kind"],
            type=data["type"],
            request_url=data["request_url"],
            ui=Container.from_json(data["ui"]),
            expires_at=datetime.fromisoformat(data["expires_at"]),
            id=data["id"],
            issued_at=datetime.fromisoformat(data["issued_at"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
            return_to=data.get("return_to"),
            state=data["state"],
            active=data.get("active"),
            csrf_token=data.get("csrf_token", ""),
            fields=data.get("fields") or {},
            internal=data.get("internal") or {},
        )
