"""A courier message in Kratos's JSON (api.json `message`, `messageDispatch`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.courier.domain import EMAIL, Dispatch, Message


def ts(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


# What a `read` admin key sees of a message's subject and body: they carry live codes and links.
MASKED = "[redacted]"


def message_view(message: Message, *, with_dispatches: bool = False, contents: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": message.id,
        "status": message.status,
        # The spec's `courierMessageType` is email | phone (Kratos's Go code says "sms"; the SDK
        # rejects that), and the channel that carried it goes in `channel`.
        "type": "email" if message.channel == EMAIL else "phone",
        "channel": message.channel,
        "recipient": message.recipient,
        "subject": message.subject if contents else MASKED,
        "body": message.body if contents else MASKED,
        "template_type": message.template_type,
        "send_count": message.send_count,
        "created_at": ts(message.created_at),
        "updated_at": ts(message.updated_at),
    }
    if with_dispatches:
        body["dispatches"] = [dispatch_view(d) for d in message.dispatches]
    return body


def dispatch_view(dispatch: Dispatch) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": dispatch.id,
        "message_id": dispatch.message_id,
        "status": dispatch.status,
        "created_at": ts(dispatch.created_at),
        "updated_at": ts(dispatch.updated_at),
    }
    if dispatch.error is not None:
        body["error"] = dispatch.error
    return body
