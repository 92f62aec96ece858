"""Typed errors carrying Kratos's error ids.

Every expected failure is a `WardenError`; the HTTP middleware renders it in Kratos's generic error
shape (`{"error": {"code", "status", "reason", "message", "id"}}`). Anything that is not a
`WardenError` is a bug: it is logged with its stack and answered as a generic 500.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class WardenError(Exception):
    code: int = 500
    error_id: str | None = None
    default_message: str = "An internal server error occurred, please contact the system administrator"

    def __init__(
        self,
        reason: str = "",
        *,
        message: str | None = None,
        details: dict[str, Any] | None = None,
        siblings: dict[str, Any] | None = None,
    ):
        super().__init__(reason or message or self.default_message)
        self.reason = reason
        self.message = message or self.default_message
        self.details = details or {}
        # Kratos puts a few keys beside `error` (`redirect_browser_to`, `use_flow_id`, …).
        self.siblings = siblings or {}

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "status": HTTPStatus(self.code).phrase,
            "message": self.message,
        }
        if self.error_id:
            body["id"] = self.error_id
        if self.reason:
            body["reason"] = self.reason
        if self.details:
            body["details"] = self.details
        return {"error": body, **self.siblings}


class BadRequest(WardenError):
    code = 400
    default_message = "The request was malformed or contained invalid parameters"


class Unauthorized(WardenError):
    code = 401
    default_message = "The request could not be authorized"
    challenge: str | None = None  # the answer's WWW-Authenticate, for a caller that should present a credential


# Error ids one service answers and another tells apart (the user never sees them as such).
PASSWORD_UNCHANGED = "warden_password_unchanged"


class Forbidden(WardenError):
    code = 403
    default_message = "The requested action was forbidden"


class NotFound(WardenError):
    code = 404
    default_message = "The requested resource could not be found"


class Conflict(WardenError):
    code = 409
    default_message = "Unable to insert or update resource because a resource with that value exists already"


class PayloadTooLarge(WardenError):
    code = 413
    default_message = "The request body is too large"


class TooManyRequests(WardenError):
    code = 429
    default_message = "Too many requests, please slow down"

    def __init__(self, retry_after_seconds: int, reason: str = "") -> None:
        super().__init__(
            reason or f"Too many failed attempts. Try again in {retry_after_seconds} seconds.",
            details={"retry_after": retry_after_seconds},
        )
        self.retry_after = retry_after_seconds


class InvalidConfiguration(WardenError):
    """A request needs something the configuration does not provide (herodot's ErrMisconfiguration,
    which Kratos answers with, e.g., a `login_challenge` and no `oauth2_provider.url`): the operator's
    to fix, not the client's, hence a 500 that names the setting."""

    error_id = "invalid_configuration"
    default_message = "Invalid configuration"


class ServiceUnavailable(WardenError):
    """A dependency (database, broker, cache, another service) is down or overloaded: the client may
    try again after `retry_after` seconds, which travels as the Retry-After header."""

    code = 503
    default_message = "The service is temporarily unavailable"
    retry_after: int = 1


class BadGateway(WardenError):
    """A third party this request needed (the password migration hook) could not be reached or
    answered improperly: Kratos's 502, with its reason. The internal HTTP client raises it again from
    another service's answer (shared/clients/http.py), so both modes answer the user alike."""

    code = 502
    default_message = "A third-party upstream service responded improperly."


class GatewayTimeout(WardenError):
    """As BadGateway, for a third party that did not answer in time: Kratos's 504."""

    code = 504
    default_message = "A third-party upstream service did not respond in time."


class ConfigError(Exception):
    """Bad configuration: the CLI prints it on one line and exits with code 2."""


class StartupFailed(Exception):
    """A dependency or a port named by a setting could not be used at start: one line, naming the
    setting and the cause (the CLI exits 1; `--debug` shows the traceback)."""


class SchemaOutOfDate(Exception):
    """The database schema does not match the code; the message says what to run."""


class CacheUnavailable(Exception):
    """The cache could not be reached; callers fall back to the database."""


class BusUnavailable(Exception):
    """The broker could not be reached or did not confirm a message."""
