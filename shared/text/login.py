"""Login texts (1010xxx) and the "no strategy"/login errors (4010xxx), `text/message_login.go`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from shared.text.message import Message, error, flow_expired, go_quote, info


def sign_in() -> Message:
    return info(1010001, "Sign in")


def sign_in_with(provider: str, provider_id: str) -> Message:
    return info(1010002, f"Sign in with {provider}", {"provider": provider, "provider_id": provider_id})


def login_refresh_requested() -> Message:
    return info(1010003, "Please confirm this action by verifying that it is you.")


def login_mfa() -> Message:
    return info(1010004, "Please complete the second authentication challenge.")


def login_verify() -> Message:
    return info(1010005, "Verify")


def label_totp_code() -> Message:
    return info(1010006, "Authentication code")


def label_lookup_code() -> Message:
    return info(1010007, "Backup recovery code")


def sign_in_with_hardware_key() -> Message:
    return info(1010008, "Sign in with hardware key")


def use_authenticator() -> Message:
    return info(1010009, "Use Authenticator")


def use_backup_recovery_code() -> Message:
    return info(1010010, "Use backup recovery code")


def continue_with_hardware_key() -> Message:
    return info(1010011, "Sign in with hardware key")


def webauthn_passwordless_prepare() -> Message:
    return info(
        1010012, "Prepare your WebAuthn device (e.g. security key, biometrics scanner, ...) and press continue."
    )


def login_continue() -> Message:
    return info(1010013, "Continue")


def login_code_sent() -> Message:
    return info(
        1010014,
        "A code was sent to the address you provided. If you didn't receive it, "
        "please check the spelling of the address and try again.",
    )


def send_sign_in_code() -> Message:
    return info(1010015, "Send sign in code")


def login_and_link_account(
    duplicate_identifier: str,
    provider: str,
    new_login_url: str,
    available_credential_types: Sequence[str],
    available_providers: Sequence[str],
) -> Message:
    text = (
        f"You tried to sign in with {go_quote(duplicate_identifier)}, but that email is already used by another "
        "account. Sign in to your account with one of the options below to add your account "
        f"{go_quote(duplicate_identifier)} at {go_quote(provider)} as another way to sign in."
    )
    return info(
        1010016,
        text,
        {
            "duplicateIdentifier": duplicate_identifier,
            "provider": provider,
            "newLoginUrl": new_login_url,
            "duplicate_identifier": duplicate_identifier,
            "new_login_url": new_login_url,
            "available_credential_types": list(available_credential_types),
            "available_providers": list(available_providers),
        },
    )


def sign_in_and_link() -> Message:
    return info(1010017, "Sign in and link")


def confirm_with(provider: str) -> Message:
    return info(1010018, f"Confirm with {provider}", {"provider": provider})


def request_code_to_continue() -> Message:
    return info(1010019, "Request code to continue")


def sign_in_with_passkey() -> Message:
    return info(1010021, "Sign in with passkey")


def sign_in_with_password() -> Message:
    return info(1010022, "Sign in with password")


def send_code_to(address: str, channel: str) -> Message:
    return info(1010023, f"Send code to {address}", {"address": address, "channel": channel})


def login_flow_expired(expired_at: datetime, now: datetime) -> Message:
    return flow_expired(4010001, "login", expired_at, now)


def _no_strategy(id: int, to: str) -> Message:
    return error(id, f"Could not find a strategy to {to}. Did you fill out the form correctly?")


def no_login_strategy() -> Message:
    return _no_strategy(4010002, "log you in with")


def no_registration_strategy() -> Message:
    return _no_strategy(4010003, "sign you up with")


def no_settings_strategy() -> Message:
    return _no_strategy(4010004, "update your settings")


def no_recovery_strategy() -> Message:
    return _no_strategy(4010005, "recover your account with")


def no_verification_strategy() -> Message:
    return _no_strategy(4010006, "verify your account with")


def login_already_completed() -> Message:
    return error(4010007, "The request was already completed successfully and can not be retried.")


def login_code_invalid() -> Message:
    return error(4010008, "The login code is invalid or has already been used. Please try again.")


def linked_credentials_mismatch() -> Message:
    return error(4010009, "Linked credentials do not match.")


def identity_disabled() -> Message:
    return error(4010011, "This account has been disabled. Please contact support for assistance.")
