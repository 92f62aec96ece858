"""The session service's expected errors, with Kratos's ids and texts."""

from __future__ import annotations

from shared import errors


class NoActiveSession(errors.Unauthorized):
    error_id = "session_inactive"

    def __init__(self) -> None:
        super().__init__(
            "No active session was found in this request.",
            message="request does not have a valid authentication session",
        )


class Aal2Required(errors.Forbidden):
    error_id = "session_aal2_required"

    def __init__(self, redirect_to: str) -> None:
        super().__init__(
            "An active session was found but it does not fulfill the Authenticator Assurance Level, implying that the "
            "session must first be upgraded to a higher Authenticator Assurance Level (AAL) before it can be used.",
            message="Session does not fulfill the requested Authenticator Assurance Level",
            siblings={"redirect_browser_to": redirect_to},
        )


class SessionNotFound(errors.NotFound):
    def __init__(self) -> None:
        super().__init__("", message="Unable to locate the resource")


class CannotRevokeCurrent(errors.BadRequest):
    def __init__(self) -> None:
        super().__init__("You tried to revoke the session you are currently using. Use the logout flow instead.")
