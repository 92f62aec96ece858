"""Registration texts (1040xxx) and errors (4040xxx), `text/message_registration.go`."""

from __future__ import annotations

from datetime import datetime

from shared.text.message import Message, error, flow_expired, info


def sign_up() -> Message:
    return info(1040001, "Sign up")


def sign_up_with(provider: str, provider_id: str) -> Message:
    return info(1040002, f"Sign up with {provider}", {"provider": provider, "provider_id": provider_id})


def registration_continue() -> Message:
    return info(1040003, "Continue")


def sign_up_with_security_key() -> Message:
    return info(1040004, "Sign up with security key")


def registration_code_sent() -> Message:
    return info(
        1040005,
        "A code has been sent to the address(es) you provided. If you have not received a message, "
        "check the spelling of the address and retry the registration.",
    )


def send_sign_up_code() -> Message:
    return info(1040006, "Send sign up code")


def sign_up_with_passkey() -> Message:
    return info(1040007, "Sign up with passkey")


def registration_back() -> Message:
    return info(1040008, "Back")


def choose_credentials() -> Message:
    return info(1040009, "Please choose a credential to authenticate yourself with.")


def registration_flow_expired(expired_at: datetime, now: datetime) -> Message:
    return flow_expired(4040001, "registration", expired_at, now)


def registration_already_completed() -> Message:
    return error(4040002, "The request was already completed successfully and can not be retried.")


def registration_code_invalid() -> Message:
    return error(4040003, "The registration code is invalid or has already been used. Please try again.")
