"""`require_verified_address`: refuses sign-in until one of the identity's addresses is verified
(message 4000010; Kratos's `hook/address_verifier.go`)."""

from __future__ import annotations

from typing import Any

from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.hooks.registry import Hook, HookContext
from shared import text


def require_verified_address(_deps: Any, _config: dict[str, Any]) -> Hook:
    async def run(ctx: HookContext) -> None:
        if not any(a.get("verified") for a in ctx.identity.get("verifiable_addresses") or []):
            ctx.flow.ui.messages.append(text.address_not_verified())
            raise FlowInvalid()

    return Hook("require_verified_address", "pre", run)
