"""`show_verification_ui`: after registration, tell the client where to enter the verification code
(Kratos's `hook/show_verification_ui.go`). The messages themselves go out whenever verification is
enabled, hook or not, as in Kratos."""

from __future__ import annotations

from typing import Any

from services.selfservice.hooks.registry import Hook, HookContext


def show_verification_ui(_deps: Any, _config: dict[str, Any]) -> Hook:
    async def run(ctx: HookContext) -> None:
        ctx.continue_with.extend(ctx.verification_flows)

    return Hook("show_verification_ui", "post", run)
