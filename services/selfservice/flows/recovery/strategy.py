"""What a method implements to join the recovery flow (Kratos's `recovery.Strategy`): prove a
recovery address the way verification proves an address, then sign the user in."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from services.selfservice.flows.flow import Flow
from services.selfservice.flows.verification.strategy import AddressProofStrategy


@runtime_checkable
class RecoveryStrategy(AddressProofStrategy, Protocol):
    def populate_recovery(self, flow: Flow) -> None:
        """The address form of a new recovery flow."""
        ...
