"""The command other services send the courier.

    routing key  `courier.message.requested`
    data         {
                   "template_type": "verification_code_valid",   # a Kratos courierMessageType (below)
                   "recipient": "alice@example.com",            # an email address, or a phone number for SMS
                   "channel": "email",                          # "email" | "sms"; optional (see below)
                   "template_data": {                           # what the template shows, under the
                     "To": "alice@example.com",                 # Go field names of Kratos's templates
                     "VerificationCode": "123456",
                     "VerificationURL": "https://…/self-service/verification?flow=…&code=…",
                     "Identity": {...}, "RequestURL": "…", "TransientPayload": {...},
                     "ExpiresInMinutes": 15
                   }
                 }

Template types and the fields their default templates use:
    recovery_valid            RecoveryURL, ExpiresInMinutes          (email, sms)
    recovery_code_valid       RecoveryCode, ExpiresInMinutes         (email, sms)
    verification_valid        VerificationURL, ExpiresInMinutes      (email, sms)
    verification_code_valid   VerificationCode, VerificationURL, ExpiresInMinutes (email, sms)
    login_code_valid          LoginCode, ExpiresInMinutes            (email, sms)
    login_code_invalid        (none: no account has the address)     (email, sms; Warden's own)
    registration_code_valid   RegistrationCode, ExpiresInMinutes     (email, sms)
    verifiable_address_changed  Identity, ChangedAt (RFC 3339)       (email, sms; to a previous address)
    recovery_invalid, recovery_code_invalid, verification_invalid, verification_code_invalid  (email)
    stub                      Subject, Body                          (email, sms)
Any type may also carry Identity (Traits for registration), RequestURL and TransientPayload, for
operators' own templates; To defaults to the recipient. Kratos's JSON names (`verification_code`,
…) are accepted too and renamed to the Go names.

`channel` defaults to "sms" when the recipient has no "@" and the type has an SMS template, else
"email". The envelope id is the idempotency key: one stored message per envelope id, however often
the command is delivered; the message takes the envelope's id when it is a UUID.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from services.courier.domain import EMAIL, SMS
from services.courier.errors import InvalidCommand
from services.courier.template_types import TEMPLATE_TYPES, go_fields
from shared.bus.envelope import Envelope
from shared.bus.events import COURIER_MESSAGE_REQUESTED

MESSAGE_REQUESTED = COURIER_MESSAGE_REQUESTED.name
# Derives a message id from an envelope id that is not a UUID (the bus does not insist on one).
_MESSAGE_NAMESPACE = uuid.UUID("6f1d7d0e-5c1b-4c55-9a53-8f3f6f0c6b2e")
MAX_RECIPIENT_LENGTH = 255


@dataclass(frozen=True)
class MessageRequest:
    message_id: str
    template_type: str
    recipient: str
    channel: str
    template_data: dict[str, Any]

    @classmethod
    def from_envelope(cls, envelope: Envelope) -> MessageRequest:
        try:
            command = COURIER_MESSAGE_REQUESTED.parse(envelope.data)
        except ValidationError as exc:
            raise InvalidCommand(f"not a {MESSAGE_REQUESTED} command: {exc.errors()[0]['msg']}") from None
        template_type = command.template_type
        spec = TEMPLATE_TYPES.get(template_type)
        if spec is None:
            raise InvalidCommand(f"unknown template_type {template_type!r}")
        recipient = _recipient(command.recipient)
        channel = command.channel or (SMS if "@" not in recipient and spec.sms else EMAIL)
        if channel not in (EMAIL, SMS):
            raise InvalidCommand(f"unknown channel {channel!r}")
        if channel == SMS and not spec.sms:
            raise InvalidCommand(f"template_type {template_type} has no SMS template")
        if channel == EMAIL and "@" not in recipient:
            raise InvalidCommand("an email recipient needs an address with @")
        template_data = command.template_data
        return cls(
            _message_id(envelope.id), template_type, recipient, channel, {"To": recipient, **go_fields(template_data)}
        )


def _recipient(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidCommand("recipient is missing")
    recipient = value.strip()
    # A recipient ends up in a mail header: no line breaks, no spaces, bounded length.
    if len(recipient) > MAX_RECIPIENT_LENGTH or any(ch.isspace() for ch in recipient):
        raise InvalidCommand("recipient is not a single address")
    return recipient


def _message_id(envelope_id: str) -> str:
    try:
        return str(uuid.UUID(envelope_id))
    except ValueError:
        return str(uuid.uuid5(_MESSAGE_NAMESPACE, envelope_id))
