"""Recovery texts (1060xxx) and errors (4060xxx), `text/message_recovery.go`."""

from __future__ import annotations

from datetime import datetime

from shared.text.message import (
    Message,
    error,
    flow_expired,
    go_time_json,
    info,
    minutes,
    success,
    unix,
    utc_aware,
)

_ADDRESS_HINT = "check the spelling of the address and make sure to use the address you registered with."


def recovery_successful(privileged_session_expires_at: datetime, now: datetime) -> Message:
    left = minutes(utc_aware(privileged_session_expires_at) - utc_aware(now))
    at = go_time_json(privileged_session_expires_at)
    return success(
        1060001,
        "You successfully recovered your account. Please change your password or set up an alternative "
        f"login method (e.g. social sign in) within the next {left} minutes.",
        {
            "privilegedSessionExpiresAt": at,
            "privileged_session_expires_at": at,
            "privileged_session_expires_at_unix": unix(privileged_session_expires_at),
        },
    )


def recovery_link_sent() -> Message:
    return info(
        1060002,
        "An email containing a recovery link has been sent to the email address you provided. "
        f"If you have not received an email, {_ADDRESS_HINT}",
    )


def recovery_code_sent() -> Message:
    return info(
        1060003,
        "An email containing a recovery code has been sent to the email address you provided. "
        f"If you have not received an email, {_ADDRESS_HINT}",
    )


def recovery_code_sent_to(masked_address: str) -> Message:
    text = f"A recovery code has been sent to {masked_address}. If you have not received it, {_ADDRESS_HINT}"
    return info(1060004, text, {"masked_address": masked_address})


def recovery_ask_full_address() -> Message:
    return info(1060005, "Recover access to your account by providing your recovery address in full.")


def recovery_choose_address() -> Message:
    return info(1060006, "How do you want to recover your account?")


def recovery_back() -> Message:
    return info(1060007, "Back")


def recovery_already_completed() -> Message:
    return error(4060001, "The request was already completed successfully and can not be retried.")


def recovery_failed() -> Message:
    return error(4060002, "The recovery flow reached a failure state and must be retried.")


def recovery_token_invalid() -> Message:
    return error(4060004, "The recovery token is invalid or has already been used. Please retry the flow.")


def recovery_flow_expired(expired_at: datetime, now: datetime) -> Message:
    return flow_expired(4060005, "recovery", expired_at, now)


def recovery_code_invalid() -> Message:
    return error(4060006, "The recovery code is invalid or has already been used. Please try again.")
