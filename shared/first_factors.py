"""The methods that sign a person in on their own (first factors), each only where the config
switches it on: what decides whether removing a credential would lock an account out. Kratos
counts a login code only with `passwordless_enabled`, and a security key only when WebAuthn is
configured for passwordless sign-in; the code credential every email identity has is no way in
otherwise. The identity service refuses any write that would leave an account with none; the
settings methods (unlinking a provider, removing a passkey) show its refusal as a message."""

from __future__ import annotations

from typing import Any

# (credential type, config key, Kratos's default)
SWITCHES = (
    ("password", "selfservice.methods.password.enabled", True),
    ("oidc", "selfservice.methods.oidc.enabled", False),
    ("saml", "selfservice.methods.saml.enabled", False),
    ("passkey", "selfservice.methods.passkey.enabled", False),
    ("webauthn", "selfservice.methods.webauthn.config.passwordless", False),
    ("code", "selfservice.methods.code.passwordless_enabled", False),
)


def enabled(settings: Any) -> frozenset[str]:
    """The credential types that are a way in under this config."""
    return frozenset(kind for kind, path, default in SWITCHES if bool(settings.get(path, default)))
