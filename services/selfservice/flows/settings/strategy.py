"""What a method implements to join the settings flow (Kratos's `settings.Strategy`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from services.selfservice.flows.flow import Flow


@dataclass
class SettingsContext:
    request: Any
    session: dict[str, Any]
    identity: dict[str, Any]
    continue_with: list[dict[str, Any]] = field(default_factory=list)


class SettingsStrategy(Protocol):
    method: str

    def populate_settings(self, flow: Flow, identity: dict[str, Any]) -> None: ...

    def needs_privileged_session(self, body: dict[str, Any], identity: dict[str, Any]) -> bool:
        """Whether this change may only be made shortly after signing in (Kratos's privileged session)."""
        ...

    async def update_settings(self, flow: Flow, body: dict[str, Any], ctx: SettingsContext) -> dict[str, Any]:
        """Applies the change; returns the updated identity. Fixable failures: messages + FlowInvalid."""
        ...
