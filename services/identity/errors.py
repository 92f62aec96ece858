"""The identity service's expected errors, with Kratos's texts."""

from __future__ import annotations

from shared import errors


class IdentityConflict(errors.Conflict):
    def __init__(self) -> None:
        super().__init__(
            "This identity conflicts with another identity that already exists.",
            message="The resource could not be created due to a conflict",
        )


class IdentityNotFound(errors.NotFound):
    def __init__(self, what: str = "Unable to locate the resource") -> None:
        super().__init__("", message=what)


class MalformedBody(errors.BadRequest):
    pass


class LastFirstFactor(errors.BadRequest):
    def __init__(self) -> None:
        super().__init__("You cannot remove the last first factor credential.")


class PasswordUnchanged(errors.BadRequest):
    """A new password that is the one the identity has (Kratos's `isNewPasswordSameAsOld`); self-service
    shows it as 4000039 on the password field."""

    error_id = errors.PASSWORD_UNCHANGED

    def __init__(self) -> None:
        super().__init__("The new password must be different from the old password.")


class UnknownHashFormat(errors.BadRequest):
    def __init__(self) -> None:
        super().__init__("The imported password does not match any known hash format.")


# The password migration hook's failures (services/identity/password_migration.py), with Kratos's
# texts (`selfservice/hook/password_migration_hook.go`).
UNREACHABLE = "A third-party upstream service could not be reached. Please try again later."


class MigrationHookUnreachable(errors.BadGateway):
    """The call failed without an answer. `delivered`: a connection was made, so the password may
    have reached the hook; without it, it reached nobody (refused, no such host, not allowed)."""

    def __init__(self, *, delivered: bool = False) -> None:
        super().__init__(UNREACHABLE, message="calling the password migration hook failed")
        self.delivered = delivered


class MigrationHookTimedOut(errors.GatewayTimeout):
    def __init__(self) -> None:
        super().__init__(UNREACHABLE, message="the password migration hook did not answer in time")


class MigrationHookImproper(errors.BadGateway):
    def __init__(self, status: int) -> None:
        super().__init__(
            "A third-party upstream service responded improperly. Please try again later.",
            message=f"password migration hook failed with status code {status}",
        )


class MigrationHookBodyFailed(errors.WardenError):
    """`config.body` could not make this login's body (a template failing on its `ctx`, a remote
    template that cannot be fetched): Kratos's request builder fails so, a 500. Nothing was sent."""

    delivered = False

    def __init__(self) -> None:
        super().__init__(message="the password migration hook's body template failed")
