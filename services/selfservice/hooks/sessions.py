"""`revoke_active_sessions` and `require_verified_address`: login hooks about the identity's sessions."""

from __future__ import annotations

from typing import Any

from services.selfservice.flow.errors import FlowInvalid
from services.selfservice.hooks import Hook, HookContext
from shared import text


def revoke_active_sessions(deps: Any, _config: dict[str, Any]) -> Hook:
    """Signing in ends every other session of the identity."""

    async def run(ctx: HookContext) -> None:
        keep = (ctx.session or {}).get("id")
        await deps.sessions.revoke_identity_sessions(ctx.identity["id"], except_session_id=keep)

    return Hook("revoke_active_sessions", "post", run)


def require_verified_address(_deps: Any, _config: dict[str, Any]) -> Hook:
    """Refuses sign-in until one of the identity's addresses is verified (message 4000010)."""

    async def run(ctx: HookContext) -> None:
        if not any(a.get("verified") for a in ctx.identity.get("verifiable_addresses") or []):
            ctx.flow.ui.messages.append(text.address_not_verified())
            raise FlowInvalid()

    return Hook("require_verified_address", "pre", run)
