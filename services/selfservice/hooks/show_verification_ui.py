"""`show_verification_ui`: after registration, tell the client where to enter the verification code
(Kratos's `hook/show_verification_ui.go`), and send a browser form there rather than to `return_to`.
The messages themselves go out whenever verification is enabled, hook or not, as in Kratos; with
`feature_flags.legacy_continue_with_verification_ui` the items are listed without the hook too
(flows/registration/hook.py), and the hook does not list them twice."""

from __future__ import annotations

from typing import Any

from services.selfservice.hooks.registry import Hook, HookContext


def show_verification_ui(_deps: Any, _config: dict[str, Any]) -> Hook:
    async def run(ctx: HookContext) -> None:
        ctx.continue_with.extend(item for item in ctx.verification_flows if item not in ctx.continue_with)
        if ctx.verification_flows:
            ctx.verification_ui = str(ctx.verification_flows[0]["flow"]["url"])

    return Hook("show_verification_ui", "post", run)
