"""Every event and command Warden puts on the bus, named once, each with its payload as a pydantic
model (the bus is an edge: what goes out is checked on the way out, what comes in on the way in).

Emit with `uow.emit(IDENTITY_DELETED, IdentityDeleted(identity_id=...))`; subscribe with
`IDENTITY_DELETED.name` and read with `IDENTITY_DELETED.parse(envelope.data)`. The README's event
table lists the same names and fields (tests/unit/test_event_catalogue.py checks that it does).

Events carry ids and field names, never secrets or what a user typed. The two commands
(`courier.*`) carry what the courier must send, and only the courier subscribes to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict


class Payload(BaseModel):
    # An unknown field is a bug at the emitter (a typo would silently drop data), so it is refused.
    model_config = ConfigDict(extra="forbid", frozen=True)


P = TypeVar("P", bound=Payload)


@dataclass(frozen=True)
class EventType(Generic[P]):
    name: str  # the envelope's `type` and the routing key
    source: str  # the service that emits it
    payload: type[P]
    command: bool = False  # addressed to one service (the courier) rather than to whoever listens

    def data(self, payload: P) -> dict[str, Any]:
        """The envelope's `data`, in JSON types; every field present (an unset one as null)."""
        return payload.model_dump(mode="json")

    def parse(self, data: Mapping[str, Any]) -> P:
        """The payload of a received envelope; pydantic's ValidationError when it is not one."""
        return self.payload.model_validate(dict(data))


# --- identity ------------------------------------------------------------------------------------


class IdentityCreated(Payload):
    identity_id: str
    schema_id: str
    state: str
    # The self-service registration that asked for the identity (null for operators and imports):
    # its verification mails follow from this event.
    registration_flow_id: str | None = None


class IdentityUpdated(Payload):
    identity_id: str
    changed: list[str]  # field names: traits, state, credentials, metadata_public, …
    state: str


class IdentityCredentialsChanged(Payload):
    identity_id: str
    types: list[str]


class IdentityDeleted(Payload):
    identity_id: str


IDENTITY_CREATED = EventType("identity.created", "identity", IdentityCreated)
IDENTITY_UPDATED = EventType("identity.updated", "identity", IdentityUpdated)
IDENTITY_CREDENTIALS_CHANGED = EventType("identity.credentials.changed", "identity", IdentityCredentialsChanged)
IDENTITY_DELETED = EventType("identity.deleted", "identity", IdentityDeleted)


# --- session -------------------------------------------------------------------------------------


class SessionIssued(Payload):
    session_id: str
    identity_id: str
    aal: str
    methods: list[str]


class SessionRevoked(Payload):
    session_id: str
    identity_id: str


SESSION_ISSUED = EventType("session.issued", "session", SessionIssued)
SESSION_REVOKED = EventType("session.revoked", "session", SessionRevoked)


# --- selfservice ---------------------------------------------------------------------------------


class FlowClosed(Payload):
    flow_id: str
    flow_type: str  # "browser" or "api"


class LoginSucceeded(FlowClosed):
    identity_id: str
    session_id: str | None = None  # None when no `session` hook ran
    method: str


class LoginFailed(FlowClosed):
    method: str | None = None  # what the submission named, when it named a method


class RegistrationSucceeded(FlowClosed):
    identity_id: str
    session_id: str | None = None
    method: str


class VerificationSucceeded(FlowClosed):
    identity_id: str | None = None  # None when the address belonged to no identity any more


class RecoverySucceeded(FlowClosed):
    identity_id: str
    method: str


class SettingsSucceeded(FlowClosed):
    identity_id: str
    method: str


LOGIN_SUCCEEDED = EventType("selfservice.login.succeeded", "selfservice", LoginSucceeded)
LOGIN_FAILED = EventType("selfservice.login.failed", "selfservice", LoginFailed)
REGISTRATION_SUCCEEDED = EventType("selfservice.registration.succeeded", "selfservice", RegistrationSucceeded)
VERIFICATION_SUCCEEDED = EventType("selfservice.verification.succeeded", "selfservice", VerificationSucceeded)
RECOVERY_SUCCEEDED = EventType("selfservice.recovery.succeeded", "selfservice", RecoverySucceeded)
SETTINGS_SUCCEEDED = EventType("selfservice.settings.succeeded", "selfservice", SettingsSucceeded)


# --- commands to the courier ---------------------------------------------------------------------


class MessageRequested(Payload):
    """See services/courier/commands.py for the template types and their fields."""

    template_type: str
    recipient: str  # an email address, or a phone number for SMS
    channel: str | None = None  # "email" | "sms"; the courier picks one when absent
    template_data: dict[str, Any] = {}


class WebhookRequested(Payload):
    """An outgoing HTTP call the courier delivers reliably (at least once, with backoff, abandoned after
    `webhooks.delivery.max_attempts`). Selfservice writes it to its outbox with the flow's final state,
    for `web_hook`s with `response.ignore: true` and for synchronous ones whose call failed. The body
    is rendered when the flow happens; headers and `auth` are read from the hook's config
    (`config_key`) when the call is sent, so no credential is stored in an outbox or a delivery row.
    The delivery's id, and its `Idempotency-Key`, is `idempotency_key` when the flow already made a
    call with it (a plain hook whose call failed: the receiver may have acted on it), else the
    envelope's id."""

    config_key: str  # where the hook's config (headers, auth) is read when the call is sent
    url: str
    method: str = "POST"
    body: str | None = None  # the rendered Jsonnet output (JSON text)
    idempotency_key: str | None = None


COURIER_MESSAGE_REQUESTED = EventType("courier.message.requested", "selfservice", MessageRequested, command=True)
COURIER_WEBHOOK_REQUESTED = EventType("courier.webhook.requested", "selfservice", WebhookRequested, command=True)


CATALOGUE: tuple[EventType[Any], ...] = (
    IDENTITY_CREATED,
    IDENTITY_UPDATED,
    IDENTITY_CREDENTIALS_CHANGED,
    IDENTITY_DELETED,
    SESSION_ISSUED,
    SESSION_REVOKED,
    LOGIN_SUCCEEDED,
    LOGIN_FAILED,
    REGISTRATION_SUCCEEDED,
    VERIFICATION_SUCCEEDED,
    RECOVERY_SUCCEEDED,
    SETTINGS_SUCCEEDED,
    COURIER_MESSAGE_REQUESTED,
    COURIER_WEBHOOK_REQUESTED,
)
