"""Authenticator assurance levels, for every service that needs them (Kratos's `identity/aal.go` and
`session.Manager.DoesSessionSatisfy`): the one place that says whether an identity has a second
factor and what level it can reach, and whether a session satisfies a `required_aal` setting.

The session service asks it for whoami (`session.whoami.required_aal`), self-service for settings
(`selfservice.flows.settings.required_aal`) and the MFA methods for what to offer. A method that
adds a second-factor credential type adds it to SECOND_FACTORS, and nowhere else; one whose
credential is a second factor only under some config (the `code` method's `mfa_enabled`) adds it to
`AssuranceRules`, which each service builds once from its settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared import errors

AAL1, AAL2 = "aal1", "aal2"
HIGHEST_AVAILABLE = "highest_available"
# Credential types that are a second factor once an identity holds them. WebAuthn keys registered
# as a second factor are `webauthn`; passkeys (`passkey`) are a first factor, as in Kratos.
SECOND_FACTORS = frozenset({"totp", "webauthn", "lookup_secret"})
_RANK = {"aal0": 0, AAL1: 1, AAL2: 2, "aal3": 3}


def has_second_factor(identity: Mapping[str, Any]) -> bool:
    """`identity` in Kratos's admin JSON (its `credentials` keyed by type)."""
    credentials = identity.get("credentials") or {}
    return any(kind in SECOND_FACTORS and _second_factor(kind, c) for kind, c in credentials.items())


def _second_factor(kind: str, credential: Any) -> bool:
    """Kratos's rules: WebAuthn keys registered with `passwordless: true` are a first factor, so the
    credential counts when one of its keys is not; backup codes count while one is unused (spent
    to the last, they would demand a level nothing can give any more). Without the config (a view
    that does not list it), the credential counts."""
    config = (credential or {}).get("config") if isinstance(credential, Mapping) else None
    listed = (config or {}).get(_LISTED.get(kind, "")) if isinstance(config, Mapping) else None
    if not isinstance(listed, list):
        return True
    if kind == "webauthn":
        return any(not passwordless_key(k) for k in listed)
    return any(not (isinstance(c, Mapping) and c.get("used_at")) for c in listed)


def passwordless_key(key: Any) -> bool:
    """Kratos's `ToWebAuthnFiltered`: a WebAuthn key registered for passwordless sign-in (resident,
    made while `passwordless` was on) signs in alone and is no second factor; a key registered as a
    second factor goes with a password. The one test of which kind a key is."""
    return isinstance(key, Mapping) and bool(key.get("is_passwordless"))


def backup_codes(config: Mapping[str, Any]) -> list[Any]:
    """A lookup_secret credential's stored codes: `recovery_codes` (Kratos's credential config), or
    `codes` as Kratos's import body names them (an imported set is rewritten under `recovery_codes`
    when a code is spent)."""
    found = config.get("recovery_codes") or config.get("codes") or []
    return found if isinstance(found, list) else []


# Where a credential's config lists what may still be used: security keys, backup codes.
_LISTED = {"webauthn": "credentials", "lookup_secret": "recovery_codes"}


@dataclass(frozen=True)
class AssuranceRules:
    """What counts as a second factor under this config, and so what level an identity can reach.

    `code_mfa` (`selfservice.methods.code.mfa_enabled`): a login code sent to one of the account's
    `code` addresses is a second factor, as Kratos's code strategy counts it
    (`CountActiveMultiFactorCredentials`), so with `highest_available` a password-only session has
    to take the code step: enabling code MFA enforces it, it does not merely offer it. Only a
    verified address counts, as only a verified one is offered a code (Kratos counts any, and so
    asks an identity whose address is unproven for a step it then cannot offer)."""

    code_mfa: bool = False

    @classmethod
    def from_settings(cls, settings: Any) -> AssuranceRules:
        code = settings.get("selfservice.methods.code") or {}
        return cls(code_mfa=bool(code.get("enabled", True) and code.get("mfa_enabled")))

    def has_second_factor(self, identity: Mapping[str, Any]) -> bool:
        """`identity` in Kratos's admin JSON (its `credentials` keyed by type)."""
        return has_second_factor(identity) or (self.code_mfa and _has_code_address(identity))

    def available_aal(self, identity: Mapping[str, Any]) -> str:
        """The highest AAL the identity could reach: aal2 once it has a second factor."""
        return AAL2 if self.has_second_factor(identity) else AAL1

    def satisfies(self, session_aal: str, identity: Mapping[str, Any], required_aal: str) -> bool:
        """Whether a session at `session_aal` may do what needs `required_aal` (`aal1` or
        `highest_available`, Kratos's two values) for `identity`."""
        if required_aal == HIGHEST_AVAILABLE:
            return _RANK.get(session_aal, 0) >= _RANK[self.available_aal(identity)]
        return _RANK.get(session_aal, 0) >= _RANK.get(required_aal, 1)


def _has_code_address(identity: Mapping[str, Any]) -> bool:
    credential = (identity.get("credentials") or {}).get("code")
    if not isinstance(credential, Mapping):
        return False
    code_addresses = {a for a in credential.get("identifiers") or [] if isinstance(a, str) and a}
    verified = (a.get("value") for a in identity.get("verifiable_addresses") or [] if a.get("verified"))
    return any(value in code_addresses for value in verified)


class Aal2Required(errors.Forbidden):
    """Kratos's `ErrAALNotSatisfied`: 403 `session_aal2_required`, with where a browser upgrades."""

    error_id = "session_aal2_required"

    def __init__(self, redirect_to: str) -> None:
        super().__init__(
            "An active session was found but it does not fulfill the Authenticator Assurance Level, implying that the "
            "session must first be upgraded to a higher Authenticator Assurance Level (AAL) before it can be used.",
            message="Session does not fulfill the requested Authenticator Assurance Level",
            siblings={"redirect_browser_to": redirect_to},
        )
