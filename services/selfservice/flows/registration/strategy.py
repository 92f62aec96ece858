"""What a method implements to join the registration flow (Kratos's `registration.Strategy`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from services.selfservice.flows.flow import Flow


@dataclass(frozen=True)
class RegistrationOutcome:
    identity: dict[str, Any]
    method: dict[str, Any]


class RegistrationStrategy(Protocol):
    method: str

    def populate_registration(self, flow: Flow) -> None: ...

    async def register(self, flow: Flow, body: dict[str, Any]) -> RegistrationOutcome:
        """Creates the identity; on a fixable failure adds messages to the flow and raises FlowInvalid."""
        ...
