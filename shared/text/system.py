"""System errors (5000xxx), `text/message_system.go`."""

from __future__ import annotations

from shared.text.message import Message, error


def system_error(reason: str) -> Message:
    return error(5000001, reason, {"reason": reason})


def no_authentication_methods() -> Message:
    return error(5000002, "No authentication methods are available. Please contact the system administrator.")
