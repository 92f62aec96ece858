"""What a method's WebAuthn options ask of the authenticator, as Kratos's `PasskeyConfig` builds it for
go-webauthn: `selfservice.methods.passkey.config.{authenticator_selection, attestation, timeouts}`.

The defaults are Kratos's: a discoverable key (`resident_key: required`), user verification
`preferred`, no attestation, and no attachment (the browser offers platform and roaming keys alike).
Timeouts go to the browser, which enforces them; left unset they are go-webauthn's: 5 minutes, or
2 minutes when user verification is `discouraged`. A `required` user verification is also checked on
the answer (go-webauthn's `shouldVerifyUser`); the attestation preference is a request only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.units import parse_duration

TIMEOUT_MS, TIMEOUT_UV_DISCOURAGED_MS = 300_000, 120_000  # go-webauthn's defaultTimeout, defaultTimeoutUVD


@dataclass(frozen=True)
class Criteria:
    resident_key: str = "discouraged"
    user_verification: str = "preferred"
    attachment: str | None = None
    attestation: str = "none"
    registration_timeout_ms: int | None = None
    login_timeout_ms: int | None = None

    @property
    def verifies_user(self) -> bool:
        return self.user_verification == "required"

    def timeout_ms(self, configured: int | None) -> int:
        if configured is not None:
            return configured
        return TIMEOUT_UV_DISCOURAGED_MS if self.user_verification == "discouraged" else TIMEOUT_MS

    @property
    def registration_timeout(self) -> int:
        return self.timeout_ms(self.registration_timeout_ms)

    @property
    def login_timeout(self) -> int:
        return self.timeout_ms(self.login_timeout_ms)


def passkey_criteria(settings: Any) -> Criteria:
    config = settings.get("selfservice.methods.passkey.config") or {}
    selection = config.get("authenticator_selection") or {}
    timeouts = config.get("timeouts") or {}
    return Criteria(
        resident_key=str(selection.get("resident_key") or "required"),
        user_verification=str(selection.get("user_verification") or "preferred"),
        attachment=selection.get("attachment") or None,
        attestation=str((config.get("attestation") or {}).get("preference") or "none"),
        registration_timeout_ms=_millis(timeouts.get("registration")),
        login_timeout_ms=_millis(timeouts.get("login")),
    )


def _millis(value: Any) -> int | None:
    """The schema's pattern admits only positive Go durations, so a set value parses."""
    return None if value is None else round(parse_duration(value).total_seconds() * 1000)
