"""Authenticator assurance levels as self-service sees them (Kratos's `identity.AvailableAAL` and
`session.whoami.required_aal`): whether an identity holds a second factor, and whether a session
must still be taken to the aal2 step before it is any use."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

# Credentials that are a second factor (Kratos counts passwordless WebAuthn as a first one; Warden's
# WebAuthn method, when it comes, stores those as passkeys).
SECOND_FACTORS = frozenset({"totp", "lookup_secret", "webauthn"})


def has_second_factor(identity: dict[str, Any]) -> bool:
    return bool(SECOND_FACTORS & set(identity.get("credentials") or {}))


def aal2_step_needed(required_aal: str, identity: dict[str, Any], session: dict[str, Any]) -> bool:
    """With `highest_available`, an aal1 session of an identity that has a second factor must
    complete it first."""
    return (
        required_aal == "highest_available"
        and session.get("authenticator_assurance_level") != "aal2"
        and has_second_factor(identity)
    )


def aal2_login_url(public_base_url: str, return_to: str | None) -> str:
    query = {"aal": "aal2", **({"return_to": return_to} if return_to else {})}
    return f"{public_base_url.rstrip('/')}/self-service/login/browser?{urlencode(query)}"
