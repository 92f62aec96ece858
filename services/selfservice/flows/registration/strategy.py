"""What a method implements to join the registration flow (Kratos's `registration.Strategy`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from services.selfservice.flows.flow import Flow

# flow.internal: the traits a step already took (the profile screen, the code sent for them), for
# the steps after it to check against or fall back on.
KEPT_TRAITS = "traits"


@dataclass(frozen=True)
class RegistrationOutcome:
    identity: dict[str, Any]
    method: dict[str, Any]
    # False: `identity` is still a `createIdentityBody` that the flow creates after its interrupting
    # hooks have had their say (Kratos's pre-persist hooks), as `hook.py` does.
    persisted: bool = True
    # An address the method proved on the way ({"via", "value"}: the one a registration code went
    # to): verified as soon as the identity exists, so no verification message goes there.
    proven: dict[str, str] | None = None


@runtime_checkable
class RegistrationStrategy(Protocol):
    method: str

    def populate_registration(self, flow: Flow) -> None: ...

    async def register(self, flow: Flow, body: dict[str, Any]) -> RegistrationOutcome:
        """Creates the identity, or returns its `createIdentityBody` unpersisted for the flow to create;
        on a fixable failure adds messages to the flow and raises FlowInvalid."""
        ...
