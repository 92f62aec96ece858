"""The session service's expected errors, with Kratos's ids and texts."""

from __future__ import annotations

from uuid import UUID

from shared import errors
from shared.aal import Aal2Required as Aal2Required  # whoami raises the error every service shares


class NoActiveSession(errors.Unauthorized):
    error_id = "session_inactive"

    def __init__(self) -> None:
        super().__init__(
            "No active session was found in this request.",
            message="request does not have a valid authentication session",
        )


class SessionNotFound(errors.NotFound):
    def __init__(self) -> None:
        super().__init__("", message="Unable to locate the resource")


class CannotRevokeCurrent(errors.BadRequest):
    def __init__(self) -> None:
        super().__init__("You tried to revoke the session you are currently using. Use the logout flow instead.")


class NotAUuid(errors.BadRequest):
    """Kratos parses a session or identity id in a session route's path as a UUID first: one that
    is not is a 400 ("could not parse UUID"), never a lookup's 404."""

    def __init__(self, value: str) -> None:
        super().__init__(f"could not parse UUID: {value[:64]!r} is not a UUID")


def path_uuid(value: str) -> str:
    try:
        UUID(value)
    except ValueError:
        raise NotAUuid(value) from None
    return value
