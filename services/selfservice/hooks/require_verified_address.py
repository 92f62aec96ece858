"""`require_verified_address`: refuses sign-in until one of the identity's addresses is verified
(Kratos's `hook/require_verified_address.go`). As Kratos does today, by any method: the login
answers with a verification flow for the address (flows/login/verified_address.py). With
`feature_flags.legacy_require_verified_login_error`, Kratos's former answer: a password login gets
the form error 4000010, and every other method signs in."""

from __future__ import annotations

from typing import Any

from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.login.errors import VerifiedAddressRequired
from services.selfservice.hooks.registry import Hook, HookContext
from shared import text


def require_verified_address(deps: Any, _config: dict[str, Any]) -> Hook:
    legacy = deps.config.legacy_require_verified_login_error

    async def run(ctx: HookContext) -> None:
        if legacy and ctx.method != "password":
            return
        if any(a.get("verified") for a in ctx.identity.get("verifiable_addresses") or []):
            return
        if legacy or not ctx.identity.get("verifiable_addresses"):
            ctx.flow.ui.messages.append(text.address_not_verified())
            raise FlowInvalid()
        raise VerifiedAddressRequired()

    return Hook("require_verified_address", "pre", run)
