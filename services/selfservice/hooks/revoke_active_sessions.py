"""`revoke_active_sessions`: signing in ends every other session of the identity
(Kratos's `hook/revoke_active_sessions.go`)."""

from __future__ import annotations

from typing import Any

from services.selfservice.hooks.registry import Hook, HookContext


def revoke_active_sessions(deps: Any, _config: dict[str, Any]) -> Hook:
    async def run(ctx: HookContext) -> None:
        keep = (ctx.session or {}).get("id")
        await deps.sessions.revoke_identity_sessions(ctx.identity["id"], except_session_id=keep)

    return Hook("revoke_active_sessions", "post", run)
