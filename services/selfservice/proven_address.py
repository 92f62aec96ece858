"""An address a flow proved (a code reached it, a social provider vouched for it), marked verified
on the identity the flow signs in or registers, and on no other.

The address may since have moved to another account (a code login), or the traits may hold another
address than the one proved (a sign-up whose form or web hook replaced the provider's). Marking it
on whichever identity holds it, and carrying on with that identity, would verify an address its
account never proved and sign the browser in to an account whose credentials it never showed, which
Kratos never does. So the identity service marks it only on the flow's identity, in the write's own
transaction (`IdentityClient.mark_address_verified`'s `identity_id`).
"""

from __future__ import annotations

from typing import Any

from shared.clients.ports import IdentityClient


def holds(identity: dict[str, Any], kind: str, via: str, value: str) -> bool:
    """Whether `value` is among the identity's `kind` addresses (`verifiable_addresses`,
    `recovery_addresses`) now. A code was sent to an address of the identity it names; Kratos keeps
    it with that address's row, so that it dies with the address: here the flow asks this instead."""
    return any((a.get("via"), a.get("value")) == (via, value) for a in identity.get(kind) or [])


async def mark_proven(identities: IdentityClient, identity: dict[str, Any], via: str, value: str) -> dict[str, Any]:
    """`identity`, with `value` marked verified if it is one of its own addresses."""
    if not holds(identity, "verifiable_addresses", via, value):
        return identity
    return await identities.mark_address_verified(via, value, identity_id=identity["id"]) or identity
