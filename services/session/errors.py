"""The session service's expected errors, with Kratos's ids and texts."""

from __future__ import annotations

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
