"""Verification texts (1080xxx) and errors (4070xxx), `text/message_verification.go`."""

from __future__ import annotations

from datetime import datetime

from shared.text.message import Message, error, flow_expired, info, success

_ADDRESS_HINT = "check the spelling of the address and make sure to use the address you registered with."


def verification_link_sent() -> Message:
    return info(
        1080001,
        "An email containing a verification link has been sent to the email address you provided. "
        f"If you have not received an email, {_ADDRESS_HINT}",
    )


def email_verified() -> Message:
    return success(1080002, "You successfully verified your email address.")


def verification_code_sent() -> Message:
    return info(
        1080003,
        "An email containing a verification code has been sent to the email address you provided. "
        f"If you have not received an email, {_ADDRESS_HINT}",
    )


def verification_sms_sent() -> Message:
    return info(
        1080004,
        "A text message containing a verification code has been sent to the phone number you provided. "
        "If you have not received a text message, check the spelling of the number and make sure to use "
        "the number you registered with.",
    )


def phone_verified() -> Message:
    return success(1080005, "You successfully verified your phone number.")


def verification_token_invalid() -> Message:
    return error(4070001, "The verification token is invalid or has already been used. Please retry the flow.")


def verification_already_completed() -> Message:
    return error(4070002, "The request was already completed successfully and can not be retried.")


def verification_failed() -> Message:
    return error(4070003, "The verification flow reached a failure state and must be retried.")


def verification_flow_expired(expired_at: datetime, now: datetime) -> Message:
    return flow_expired(4070005, "verification", expired_at, now)


def verification_code_invalid() -> Message:
    return error(4070006, "The verification code is invalid or has already been used. Please try again.")
