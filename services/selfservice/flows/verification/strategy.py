"""What a method implements to prove an address for verification (Kratos's `verification.Strategy`,
met by the `code` and `link` methods): the form that asks for the address, what the message carries,
what comes next. Recovery's Protocol (`flows/recovery/strategy.py`) shares the address-proof part."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from services.selfservice.flows.flow import Flow


class AddressProofStrategy(Protocol):
    method: str  # "code" or "link"

    def after_sending(self, flow: Flow, kind: str, address: str, via: str = "email") -> None:
        """The flow once a message went out: a code field and a resend button, or just the notice.
        `via`: how it went, "email" or (a code only) "sms"."""
        ...

    def template_data(self, flow: Flow, kind: str, secret: str) -> dict[str, Any]:
        """What the valid-address message carries: the code, or the URL with the token."""
        ...

    def template_type(self, kind: str, valid: bool) -> str:
        """Kratos's courier template type, e.g. verification_code_valid or recovery_invalid."""
        ...


@runtime_checkable
class VerificationStrategy(AddressProofStrategy, Protocol):
    def populate_verification(self, flow: Flow) -> None:
        """The address form of a new verification flow."""
        ...
