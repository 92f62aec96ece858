"""Credential, password and account texts of the 4000xxx family (`text/message_validation.go`)."""

from __future__ import annotations

from collections.abc import Sequence

from shared.text.message import Message, error

_HUMAN_CREDENTIAL = {
    "password": "your password",
    "oidc": "social sign in",
    "saml": "social sign in",
    "webauthn": "your passkey or a security key",
    "passkey": "your passkey",
}


def password_policy_violation(reason: str) -> Message:
    return error(4000005, f"The password can not be used because {reason}.", {"reason": reason})


def invalid_credentials() -> Message:
    return error(
        4000006,
        "The provided credentials are invalid, check for spelling mistakes in your password or username, "
        "email address, or phone number.",
    )


def identifier_exists() -> Message:
    return error(4000007, "An account with the same identifier (email, phone, username, ...) exists already.")


def totp_code_invalid() -> Message:
    return error(4000008, "The provided authentication code is invalid, please try again.")


def identifier_missing() -> Message:
    return error(
        4000009,
        "Could not find any login identifiers. Did you forget to set them? "
        "This could also be caused by a server misconfiguration.",
    )


def address_not_verified() -> Message:
    return error(4000010, "Account not active yet. Did you forget to verify your email address?")


def no_totp_device() -> Message:
    return error(4000011, "You have no TOTP device set up.")


def lookup_code_already_used() -> Message:
    return error(4000012, "This backup recovery code has already been used.")


def no_lookup_codes() -> Message:
    return error(4000014, "You have no backup recovery codes set up.")


def no_webauthn_user() -> Message:
    return error(4000015, "This account does not exist or has no security key set up.")


def lookup_code_invalid() -> Message:
    return error(4000016, "The backup recovery code is not valid.")


def identifier_exists_on_oidc_link() -> Message:
    return error(
        4000027,
        "An account with the same identifier (email, phone, username, ...) exists already. "
        "Please sign in to your existing account to link your social profile.",
    )


def identifier_exists_with_hints(
    available_credential_types: Sequence[str],
    available_oidc_providers: Sequence[str],
    credential_identifier_hint: str,
) -> Message:
    """4000028: which ways in the existing account offers, worded as Kratos does."""
    identifier = credential_identifier_hint or "an email, phone, or username"
    text = f"You tried signing in with {identifier} which is already in use by another account."
    if available_credential_types:
        ways = [_HUMAN_CREDENTIAL[t] for t in available_credential_types if t in _HUMAN_CREDENTIAL]
        ways = list(dict.fromkeys(ways or available_credential_types))
        if len(ways) > 1:
            ways[-1] = "or " + ways[-1]
        text += f" You can sign in using {', '.join(ways)}."
    if available_oidc_providers:
        providers = ", ".join(p.title() for p in available_oidc_providers)
        text += f" You can sign in using one of the following social sign in providers: {providers}."
    return error(
        4000028,
        text,
        {
            "available_credential_types": list(available_credential_types),
            "available_oidc_providers": list(available_oidc_providers),
            "credential_identifier_hint": credential_identifier_hint,
        },
    )


def password_too_similar() -> Message:
    return error(4000031, "The password can not be used because it is too similar to the identifier.")


def password_too_short(min_length: int, actual_length: int) -> Message:
    text = f"The password must be at least {min_length} characters long, but got {actual_length}."
    return error(4000032, text, {"min_length": min_length, "actual_length": actual_length})


def password_too_long(max_length: int, actual_length: int) -> Message:
    text = f"The password must be at most {max_length} characters long, but got {actual_length}."
    return error(4000033, text, {"max_length": max_length, "actual_length": actual_length})


def password_breached(breaches: int | None = None) -> Message:
    """Kratos puts HIBP's count in the context; an offline list has no count, so it is left out."""
    context = {"breaches": breaches} if breaches is not None else {}
    return error(4000034, "The password has been found in data breaches and must no longer be used.", context)


def no_code_user() -> Message:
    return error(4000035, "This account does not exist or has not setup sign in with code.")


def traits_mismatch() -> Message:
    return error(4000036, "The provided traits do not match the traits previously associated with this flow.")


def account_not_found() -> Message:
    return error(4000037, "This account does not exist or has no login method configured.")


def captcha_failed() -> Message:
    return error(4000038, "Captcha verification failed, please try again.")


def password_same_as_old() -> Message:
    return error(4000039, "The new password must be different from the old password.")


def invalid_email() -> Message:
    return error(4000040, "Enter a valid email address")


def invalid_phone() -> Message:
    return error(4000041, "Enter a valid phone number")
