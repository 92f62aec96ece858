"""`update_identity_on_login: automatic` (Kratos's `UpdateIdentityFromClaims`): a known subject's
sign-in re-runs the provider's claims mapper and brings the identity up to date with what the
provider says now, so a changed address or name at the provider reaches the account.

- traits: the mapper's merged over the current ones (the mapper wins; traits it does not output
  are kept, nested objects merged key by key, as Kratos's `merge`);
- `metadata_public` / `metadata_admin`: replaced only when the mapper outputs the key at all (a
  mapper written for registration alone must not wipe metadata set since), and then only by an object;
- addresses: the identity service re-derives them, keeping the state of those that stay; the
  mapper's `verified_addresses` then mark matching ones verified.

Nothing is written when nothing changed. The identity service validates the traits against the
schema: a mapper that breaks it fails the sign-in with the schema's messages and changes nothing.
"""

from __future__ import annotations

from typing import Any

from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import Flow
from services.selfservice.strategies.oidc.errors import MapperFailed
from services.selfservice.strategies.oidc.mapper import MappedIdentity
from services.selfservice.traits import trait_errors
from shared import errors, text
from shared.clients.ports import IdentityClient

AUTOMATIC = "automatic"


def mapper_input(identity: dict[str, Any]) -> dict[str, Any]:
    """What the mapper sees as `std.extVar('identity')`: the identity as it is now."""
    return {k: identity.get(k) for k in ("traits", "metadata_public", "metadata_admin")}


def merged(mapped: Any, current: Any) -> Any:
    """`mapped` over `current`: objects merge key by key, any other value of `mapped` wins."""
    if not isinstance(mapped, dict) or not isinstance(current, dict):
        return mapped
    return {**current, **{k: merged(v, current.get(k)) for k, v in mapped.items()}}


def changes(current: dict[str, Any], mapped: MappedIdentity) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The new traits (None when they stay) and the metadata keys whose value changes."""
    traits = merged(mapped.traits, current.get("traits") or {})
    metadata: dict[str, Any] = {}
    for key in sorted(mapped.metadata_given):
        value = getattr(mapped, key)
        if not isinstance(value, dict):  # Kratos refuses anything but an object here too
            raise MapperFailed(f"the mapper did not return an object for identity.{key}")
        if value != current.get(key):
            metadata[key] = value
    return (traits if traits != (current.get("traits") or {}) else None), metadata


async def update_on_login(
    identities: IdentityClient, flow: Flow, identity: dict[str, Any], mapped: MappedIdentity
) -> dict[str, Any]:
    """The identity after applying `mapped` (the identity itself when nothing changed). Raises
    FlowInvalid, the flow carrying why, when the identity service refuses the change."""
    traits, metadata = changes(identity, mapped)
    if traits is not None or metadata:
        try:
            identity = await identities.update_traits(
                identity["id"], traits if traits is not None else identity["traits"], metadata or None
            )
        except errors.Conflict:  # the new address or identifier belongs to another account
            flow.ui.messages.append(text.identifier_exists())
            raise FlowInvalid() from None
        except errors.BadRequest as refused:
            trait_errors(flow, refused)
            raise FlowInvalid() from None
    vouched = {(str(a.get("via") or "email"), str(a["value"]).casefold()) for a in mapped.verified_addresses}
    for address in identity.get("verifiable_addresses") or []:
        if not address.get("verified") and (address["via"], str(address["value"]).casefold()) in vouched:
            marked = await identities.mark_address_verified(address["via"], address["value"], identity["id"])
            identity = marked or identity
    return identity
