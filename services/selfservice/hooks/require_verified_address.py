"""`require_verified_address`: refuses sign-in until one of the identity's addresses is verified
(Kratos's `hook/address_verifier.go`). As Kratos does today, by any method: the login
answers with a verification flow for the address (flows/login/verified_address.py). With
`feature_flags.legacy_require_verified_login_error`, Kratos's former answer: a password login gets
the form error 4000010, and every other method signs in.

An identity with no verifiable address at all cannot verify one (its schema names no
`verification` address, or it was imported without one): as in Kratos, its login gets a 500
misconfiguration error, the operator's to fix, with the legacy flag too (where Warden answered 4000010)."""

from __future__ import annotations

from typing import Any

from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.login.errors import VerifiedAddressRequired
from services.selfservice.hooks.registry import Hook, HookContext
from shared import text
from shared.errors import InvalidConfiguration

NO_ADDRESS = (
    "A misconfiguration prevents login. Expected to find a verification address but this identity does not have "
    "one assigned."
)


def require_verified_address(deps: Any, _config: dict[str, Any]) -> Hook:
    legacy = deps.config.legacy_require_verified_login_error

    async def run(ctx: HookContext) -> None:
        if legacy and ctx.method != "password":
            return
        addresses = ctx.identity.get("verifiable_addresses") or []
        if any(a.get("verified") for a in addresses):
            return
        if not addresses:
            raise InvalidConfiguration(NO_ADDRESS)
        if legacy:
            ctx.flow.ui.messages.append(text.address_not_verified())
            raise FlowInvalid()
        raise VerifiedAddressRequired()

    return Hook("require_verified_address", "pre", run)
