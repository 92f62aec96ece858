"""The login flow's own errors (Kratos's `selfservice/flow/login/error.go`)."""

from __future__ import annotations

from typing import Any

from shared import errors, text


class VerifiedAddressRequired(Exception):
    """`require_verified_address` found no verified address: the login stops before any session, and
    the flow answers with a verification flow for one of them (login/verified_address.py)."""


class AddressNotVerified(errors.BadRequest):
    """Kratos's `login.ErrAddressNotVerified` with the verification flow to continue with, as
    `require_verified_address` writes it for JSON clients: a 403 whose body keeps the error's own
    400 (herodot's `WriteErrorCode` forces the status, not the body's code)."""

    error_id = text.SESSION_VERIFIED_ADDRESS_REQUIRED
    status = 403

    def __init__(self, continue_with: list[dict[str, Any]]) -> None:
        super().__init__(
            "Your account's email or phone address are not verified yet. Please check your email or phone inbox "
            "or re-request verification.",
            message="your email or phone address is not yet verified",
            details={"continue_with": continue_with},
        )
