"""The methods that sign a person in on their own (first factors), each only where the config
switches it on: what decides whether removing a credential would lock an account out. Kratos
counts a login code only with `passwordless_enabled`, and a security key only when WebAuthn is
configured for passwordless sign-in; the code credential every email identity has is no way in
otherwise. The identity service refuses any write that would leave an account with none; the
settings methods (unlinking a provider, removing a passkey) show its refusal as a message, and
count the ways in (`ways_in`) to show the last one as Kratos does."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from shared.aal import passwordless_key

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


def ways_in(credentials: Mapping[str, Any], kinds: Collection[str]) -> int:
    """Kratos's CountActiveFirstFactorCredentials: each passkey and passwordless security key, each
    linked provider, and one for a password or a login code, among the `kinds` that are a way in
    under this config (`enabled`) and can sign in. `credentials` by type, as the identity service shows them to the other services: each
    with its `config`, its `identifiers` and whether it is `usable` (only the identity service can
    tell: a password credential may hold identifiers and no hash)."""
    count = 0
    for kind, credential in credentials.items():
        if kind not in kinds or not isinstance(credential, Mapping) or not credential.get("usable", True):
            continue
        keys = (credential.get("config") or {}).get("credentials")
        if kind in ("passkey", "webauthn") and isinstance(keys, list):
            count += sum(1 for k in keys if kind == "passkey" or passwordless_key(k))
        elif kind in ("oidc", "saml"):
            count += len(credential.get("identifiers") or []) or 1
        else:
            count += 1
    return count
