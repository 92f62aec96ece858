"""What a method implements to join the settings flow (Kratos's `settings.Strategy`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from aiohttp import web

from services.selfservice.flows.flow import Flow


class AddressVerifier(Protocol):
    async def send(
        self, request: web.Request, flow_type: str, addresses: list[dict[str, Any]], *, origin: Flow | None = None
    ) -> list[dict[str, Any]]:
        """Verification messages for new addresses, in flows made from `origin` (the settings flow);
        the `show_verification_ui` items to continue with."""
        ...


@dataclass
class SettingsContext:
    request: web.Request
    session: dict[str, Any]
    identity: dict[str, Any]
    verifier: AddressVerifier  # the flow's, handed over so that methods need not be built after it
    continue_with: list[dict[str, Any]] = field(default_factory=list)
    # What the interrupting web hooks answered (`metadata_public`, `metadata_admin`): every identity
    # write of the method takes it, so that it is saved with the change or not at all, as in Kratos.
    metadata: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class SettingsStrategy(Protocol):
    method: str

    def populate_settings(self, flow: Flow, identity: dict[str, Any]) -> None: ...

    def needs_privileged_session(self, body: dict[str, Any], identity: dict[str, Any]) -> bool:
        """Whether this change may only be made shortly after signing in (Kratos's privileged session)."""
        ...

    async def update_settings(self, flow: Flow, body: dict[str, Any], ctx: SettingsContext) -> dict[str, Any]:
        """Applies the change; returns the updated identity. Fixable failures: messages + FlowInvalid."""
        ...


class ShowForm(Exception):  # noqa: N818 - a control-flow signal, as FlowInvalid is
    """A step that changes nothing yet and shows the form again (reveal or regenerate backup codes):
    the flow is answered as it now is, still `show_form` (Kratos's `ErrStrategyAsksToReturnToUI`)."""


@runtime_checkable
class ClaimsSubmission(Protocol):
    """A method whose buttons submit without a `method` field (Kratos's `totp_unlink`,
    `lookup_secret_reveal`…): it says whether a body is meant for it."""

    method: str

    def claims(self, body: dict[str, Any]) -> bool: ...


@runtime_checkable
class CompletesElsewhere(Protocol):
    """A method whose submission may only start the change: linking a social sign-in provider sends
    the browser to the provider and completes on its callback. The interrupting web hooks run where
    the change completes, once, as Kratos's pre-persist hooks do."""

    def completes_elsewhere(self, body: dict[str, Any]) -> bool: ...
