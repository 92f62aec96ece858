"""System errors (5000xxx), `text/message_system.go`."""

from __future__ import annotations

from shared.text.message import Message, error


def system_error(reason: str) -> Message:
    return error(5000001, reason, {"reason": reason})


def no_authentication_methods() -> Message:
    return error(5000002, "No authentication methods are available. Please contact the system administrator.")


def too_many_requests(retry_after_seconds: int) -> Message:
    """Warden's own (Kratos leaves rate limiting to a proxy and has no such message): 4290001."""
    return error(
        4290001,
        f"Too many attempts. Please try again in {retry_after_seconds} seconds.",
        {"retry_after": retry_after_seconds},
    )
