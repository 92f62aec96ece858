"""`session`: after registration, sign the new identity in (Kratos's `hook/session_issuer.go`)."""

from __future__ import annotations

from typing import Any

from services.selfservice.flows.request import device
from services.selfservice.hooks.registry import SESSION, Hook, HookContext


def session_hook(deps: Any, _config: dict[str, Any]) -> Hook:
    async def run(ctx: HookContext) -> None:
        method = ctx.authentication_method or {"method": ctx.method, "aal": "aal1"}
        issued = await deps.sessions.issue_session(ctx.identity["id"], [method], device(ctx.request), ctx.identity)
        ctx.session, ctx.session_token = issued["session"], issued["session_token"]
        if ctx.flow.type == "api":
            ctx.continue_with.append({"action": "set_ory_session_token", "ory_session_token": ctx.session_token})

    return Hook(SESSION, "post", run)
