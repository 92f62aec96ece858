"""Profile settings: traits edited in the settings flow. Changing an identifier or an address needs
a privileged session; a changed verifiable address becomes unverified and gets a verification message.
Where a code to a verified address is a second factor (`code.mfa_enabled`), changing the code
addresses or the addresses to verify of an account that has a second factor changes its second
factors: from an aal2 session only, as unlinking or adding any other factor (strategies/mfa.py)."""

from __future__ import annotations

from typing import Any

from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.settings.strategy import SettingsContext
from services.selfservice.flows.ui import input_node
from services.selfservice.strategies.mfa import SecondFactorServices, second_factor_services
from services.selfservice.strategies.registry import Dependencies, MethodSpec
from services.selfservice.traits import TraitSchemas, trait_errors
from shared import errors, text
from shared.aal import AAL2
from shared.clients.ports import IdentityClient


class ProfileStrategy:
    method = "profile"

    def __init__(self, identities: IdentityClient, schemas: TraitSchemas, factors: SecondFactorServices) -> None:
        self.identities = identities
        self.schemas = schemas
        self.factors = factors

    def populate_settings(self, flow: Flow, identity: dict[str, Any]) -> None:
        flow.ui.add(*self.schemas.nodes(identity.get("schema_id"), group="profile", values=identity.get("traits")))
        flow.ui.add(input_node("profile", "method", "submit", value="profile", label=text.label_save()))

    def needs_privileged_session(self, body: dict[str, Any], identity: dict[str, Any]) -> bool:
        traits = self.schemas.coerce(body.get("traits") or {}, identity.get("schema_id"))
        protected = self.schemas.protected_paths(identity.get("schema_id"))
        return any(_get(traits, p) != _get(identity.get("traits") or {}, p) for p in protected)

    async def update_settings(self, flow: Flow, body: dict[str, Any], ctx: SettingsContext) -> dict[str, Any]:
        schema_id = ctx.identity.get("schema_id")
        traits = self.schemas.coerce(body.get("traits") or {}, schema_id)
        for node in self.schemas.nodes(schema_id, group="profile", values=traits if isinstance(traits, dict) else {}):
            flow.ui.set_value(node.name or "", node.attributes.get("value"))
        await self._second_factor_kept(flow, ctx, schema_id, traits)
        try:
            updated = await self.identities.update_traits(ctx.identity["id"], traits, ctx.metadata)
        except errors.Conflict:
            flow.ui.messages.append(text.identifier_exists())
            raise FlowInvalid() from None
        except errors.BadRequest as exc:
            trait_errors(flow, exc)
            raise FlowInvalid() from None
        before = {a["value"] for a in ctx.identity.get("verifiable_addresses") or []}
        fresh = [
            a for a in updated.get("verifiable_addresses") or [] if a["value"] not in before and not a.get("verified")
        ]
        if fresh:
            ctx.continue_with += await ctx.verifier.send(ctx.request, flow.type, fresh, origin=flow)
        return updated

    async def _second_factor_kept(self, flow: Flow, ctx: SettingsContext, schema_id: Any, traits: Any) -> None:
        """403 `session_aal2_required` for a change of the addresses a code reaches, where it is a second
        factor, from a session below aal2 of an account that has one: moving the verified address
        takes that factor away (whoami then takes the password alone), and the new one, once its
        taker verifies it, is a factor of theirs. That holds whatever `settings.required_aal` says."""
        assurance = self.factors.config.assurance
        if not assurance.code_mfa or ctx.session.get("authenticator_assurance_level") == AAL2:
            return
        if not assurance.has_second_factor(ctx.identity):
            return
        try:
            would_be = await self.identities.validate_identity({"schema_id": schema_id, "traits": traits})
        except errors.BadRequest:
            return  # the update refuses the traits with this error, changing nothing
        if _code_reaches(would_be) != _code_reaches(ctx.identity):
            self.factors.require_aal2_session(ctx.session, flow)


def _code_reaches(identity: dict[str, Any]) -> set[str]:
    """Where a code could go: the code addresses, and every address to verify, since a code as a
    second factor goes to any verified address of the account (mfa.py), sign-in identifier or not."""
    code = (identity.get("credentials") or {}).get("code") or {}
    addresses = identity.get("verifiable_addresses") or []
    return {i for i in code.get("identifiers") or [] if isinstance(i, str)} | {
        f"{a.get('via')}:{a.get('value')}" for a in addresses if isinstance(a, dict)
    }


def _build(deps: Dependencies) -> ProfileStrategy:
    return ProfileStrategy(deps.identities, deps.schemas, second_factor_services(deps))


SPEC = MethodSpec(id="profile", node_group="profile", credential_type=None, build=_build, enabled_by_default=True)


def _get(values: Any, path: str) -> Any:
    """The value at a dotted path; "" is the whole of `values`."""
    for part in path.split(".") if path else []:
        values = values.get(part) if isinstance(values, dict) else None
    return values
