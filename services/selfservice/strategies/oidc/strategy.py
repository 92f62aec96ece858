"""Social sign-in (`selfservice.methods.oidc`, Kratos's `selfservice/strategy/oidc/strategy.go`):
the method's nodes (one button per provider), the start of the redirect dance, and what the
callback needs to finish it.

A submission with `provider=<id>` stores `state`, `nonce` and a PKCE verifier in the flow (server
side, never in its JSON) and sends the browser to the provider. The callback (`callback.py`) checks
them, trades the code for tokens, verifies the ID token and reads the claims; `flows.py` then signs
in, signs up or links. Native apps may instead submit an `id_token` their platform SDK obtained.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from services.selfservice.flows.errors import FlowInvalid, RedirectBrowser
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.identity_schema import schema_id, schema_of
from services.selfservice.flows.login.strategy import (
    LINK_AFTER_LOGIN,
    LINK_OWNER,
    LoginOutcome,
    first_factor_only,
    pending_link,
)
from services.selfservice.flows.registration.strategy import RegistrationOutcome
from services.selfservice.flows.settings.strategy import SettingsContext
from services.selfservice.flows.ui import input_node
from services.selfservice.strategies.oidc.assurance import aal_for, upstream
from services.selfservice.strategies.oidc.config import OidcConfig, ProviderConfig
from services.selfservice.strategies.oidc.errors import OidcError, StateInvalid
from services.selfservice.strategies.oidc.linking import account_to_link
from services.selfservice.strategies.oidc.login_update import AUTOMATIC, mapper_input, update_on_login
from services.selfservice.strategies.oidc.mapper import ClaimsMapper, MappedIdentity
from services.selfservice.strategies.oidc.providers import (
    FAMILIES,
    Claims,
    OAuth2Provider,
    Request,
    provider_for,
    random_token,
)
from services.selfservice.traits import TraitSchemas, trait_errors
from shared import errors, text
from shared.cipher import Cipher
from shared.clients.ports import IdentityClient

METHOD = "oidc"
PENDING_KEY = "oidc"  # flow.internal: the dance between the redirect and the callback
_CONTINUATION = "oidc_continuation"  # a verified sign-in and its mapper output, waiting for fixed traits
# Kept beside a credential's providers for the flow's use, never stored in the credential.
_NOT_IN_CREDENTIAL = {"method", LINK_OWNER, "metadata_public", "metadata_admin", "verified_addresses", "session_method"}


@dataclass(frozen=True)
class Pending:
    """What a flow keeps between the redirect and the callback."""

    provider: str
    secret: str
    nonce: str
    code_verifier: str | None
    intent: str  # login | registration | link
    traits: dict[str, Any]  # what a registration form had already filled in
    # The submission's `transient_payload`, for the web hooks that run on the callback (Kratos keeps
    # it in its AuthCodeContainer); taken off the flow with the rest when the browser comes back.
    transient_payload: Any = None

    def to_record(self) -> dict[str, Any]:
        return self.__dict__.copy()


class OidcStrategy:
    method = METHOD

    def __init__(
        self,
        config: OidcConfig,
        mappers: dict[str, ClaimsMapper],
        cipher: Cipher,
        egress: Request,
        identities: IdentityClient,
        schemas: TraitSchemas,
        traits_group: str = "default",
    ) -> None:
        self.config = config
        self.cipher = cipher
        self.mappers = mappers
        self.identities = identities
        self.schemas = schemas
        # The group of the traits a sign-up still needs (`oidc` with
        # `feature_flags.legacy_oidc_registration_node_group`, Kratos's former group).
        self.traits_group = traits_group
        self.providers: dict[str, OAuth2Provider] = {p.id: provider_for(p, egress) for p in config.providers}

    def provider_config(self, provider_id: str) -> ProviderConfig:
        return self.providers[provider_id].config

    # --- nodes ---------------------------------------------------------------------------------
    def buttons(self, flow: Flow, label: Any) -> None:
        for provider in self.config.providers:
            flow.ui.add(
                input_node(METHOD, "provider", "submit", value=provider.id, label=label(provider.title, provider.id))
            )

    def supports_organizations(self) -> bool:
        """An organization's members sign in with its identity provider (flows/organizations.py)."""
        return True

    def populate_login(self, flow: Flow) -> None:
        self.buttons(flow, text.sign_in_with)

    def populate_registration(self, flow: Flow) -> None:
        self.buttons(flow, text.sign_up_with)

    def claims(self, body: dict[str, Any]) -> bool:
        """Kratos's provider buttons submit `provider` (or `link`/`unlink` in settings), no `method`."""
        return any(body.get(name) for name in ("provider", "link", "unlink"))

    def title(self, provider_id: str) -> str:
        return self.providers[provider_id].config.title

    # --- submissions ---------------------------------------------------------------------------
    async def login(self, flow: Flow, body: dict[str, Any]) -> LoginOutcome:
        first_factor_only(flow)
        provider = self.chosen(flow, body)
        if body.get("id_token"):
            return await self._native_login(flow, provider, body)
        await self.redirect(flow, provider, body, "login")
        raise AssertionError("redirect raises")

    async def register(self, flow: Flow, body: dict[str, Any]) -> RegistrationOutcome:
        provider = self.chosen(flow, body)
        kept = flow.internal.get(_CONTINUATION)
        if kept and kept.get("provider") == provider.config.id and not body.get("id_token"):
            return await self._continued(flow, body, kept)
        if body.get("id_token"):
            _, claims = await self.claims_from_id_token(flow, body)
            return await self._native_registration(flow, provider.config.id, claims, body)
        await self.redirect(flow, provider, body, "registration")
        raise AssertionError("redirect raises")

    async def _native_login(self, flow: Flow, provider: OAuth2Provider, body: dict[str, Any]) -> LoginOutcome:
        """`id_token` from Apple's or Google's native SDK: the app signed in with the provider itself."""
        _, claims = await self.claims_from_id_token(flow, body)
        provider_id = provider.config.id
        owner = await self.identities.find_by_credential_identifier(METHOD, f"{provider_id}:{claims.subject}")
        linking = owner is None and (owner := await self.account_to_link(flow, provider_id, claims)) is not None
        if owner is None:
            flow.ui.messages.append(
                text.validation_failed("No account is linked to this social sign-in; sign up first.")
            )
            raise FlowInvalid()
        if owner.get("state") != "active":
            flow.ui.messages.append(text.identity_disabled())
            raise FlowInvalid()
        if linking:  # account_linking_mode: automatic: the login hook links it, as after signing in
            flow.internal[LINK_AFTER_LOGIN] = pending_link(
                METHOD, owner["id"], self.kept_sign_in(provider_id, claims, {})
            )
        else:
            owner = await self.updated_on_login(flow, provider_id, claims, owner)
        return LoginOutcome(owner, authentication_method(provider.config, claims))

    async def _native_registration(
        self, flow: Flow, provider_id: str, claims: Claims, body: dict[str, Any]
    ) -> RegistrationOutcome:
        kept = self.kept_sign_in(provider_id, claims, {})
        mapped = await self.map_claims(provider_id, claims)
        given = body.get("traits")
        submitted = self.schemas.coerce(given, schema_of(flow)) if isinstance(given, dict) else {}
        return self.registration(flow, {**mapped.traits, **submitted}, mapped, kept)

    async def _continued(self, flow: Flow, body: dict[str, Any], kept: dict[str, Any]) -> RegistrationOutcome:
        """The form after a sign-in whose traits the schema refused: the claims are the ones verified
        then, kept in the flow with the mapper's metadata and vouched-for addresses
        (`continue_registration`); the user has filled in or corrected the traits. A vouched-for
        address is marked verified only if the traits still hold it (proven_address.py)."""
        traits = self.schemas.coerce(body.get("traits") or {}, schema_of(flow))
        traits = traits if isinstance(traits, dict) else {}
        mapped = MappedIdentity(
            traits, kept.get("metadata_public"), kept.get("metadata_admin"), kept.get("verified_addresses") or []
        )
        return self.registration(flow, traits, mapped, kept)

    # --- identities ----------------------------------------------------------------------------
    def kept_sign_in(self, provider_id: str, claims: Claims, tokens: dict[str, str]) -> dict[str, Any]:
        """What the credential will hold (tokens already encrypted), and the session's method for a
        sign-up by it (`session_method`, at the level the claims prove: assurance.py)."""
        method = authentication_method(self.provider_config(provider_id), claims)
        return {"provider": provider_id, "subject": claims.subject, **tokens, "session_method": method}

    async def map_claims(
        self, provider_id: str, claims: Claims, identity: dict[str, Any] | None = None
    ) -> MappedIdentity:
        return await self.mappers[provider_id].map(claims.for_mapper(), identity)

    async def account_to_link(self, flow: Flow, provider_id: str, claims: Claims) -> dict[str, Any] | None:
        """The account `account_linking_mode: automatic` links this unknown subject to (linking.py),
        or None. Never in a refresh or a step-up: those re-authenticate the session's identity by a
        way in it has already."""
        if flow.internal.get("identity_id"):
            return None
        return await account_to_link(self.identities, self.provider_config(provider_id), claims)

    async def updated_on_login(
        self, flow: Flow, provider_id: str, claims: Claims, identity: dict[str, Any]
    ) -> dict[str, Any]:
        """A known subject signs in: with `update_identity_on_login: automatic` the identity takes
        what the provider's mapper makes of the claims now (login_update.py); else it is left alone."""
        if self.provider_config(provider_id).update_identity_on_login != AUTOMATIC:
            return identity
        mapped = await self.map_claims(provider_id, claims, mapper_input(identity))
        return await update_on_login(self.identities, flow, identity, mapped)

    def registration(
        self, flow: Flow, traits: dict[str, Any], mapped: MappedIdentity, kept: dict[str, Any]
    ) -> RegistrationOutcome:
        """The identity to create (of the flow's schema), for the registration flow to create after its
        interrupting hooks; the first address the provider vouched for (Kratos's `verified_addresses`)
        is proven."""
        entry = {k: v for k, v in kept.items() if k not in _NOT_IN_CREDENTIAL}
        body: dict[str, Any] = {
            "schema_id": schema_id(flow, self.schemas),
            "traits": traits,
            "credentials": {METHOD: {"config": {"providers": [entry]}}},
        }
        if mapped.metadata_public is not None:
            body["metadata_public"] = mapped.metadata_public
        if mapped.metadata_admin is not None:
            body["metadata_admin"] = mapped.metadata_admin
        proven = next(
            ({"via": str(a.get("via") or "email"), "value": str(a["value"])} for a in mapped.verified_addresses),
            None,
        )
        method = kept.get("session_method") or {"method": METHOD, "aal": "aal1", "provider": kept["provider"]}
        return RegistrationOutcome(body, method, persisted=False, proven=proven)

    def continue_registration(
        self,
        flow: Flow,
        provider_id: str,
        traits: dict[str, Any],
        kept: dict[str, Any],
        mapped: MappedIdentity,
        error: errors.BadRequest,
    ) -> None:
        """The registration form again, pre-filled, with the schema's complaints: as Kratos's
        `HandleError`, the CSRF token, the traits (`default` group, or `oidc` with the legacy flag)
        and the provider's Continue button, and nothing else, so that no other method's form
        offers to send the traits without the sign-in they belong to.

        In a browser flow the verified sign-in waits in the flow for the corrected traits: the flow is
        bound to the browser that signed in. With it waits what the mapper made of the claims besides
        the traits (metadata, the addresses the provider vouched for), so that the identity is the
        one a sign-up the schema took at once would have made (Kratos maps the claims again on the
        Continue button's round trip to the provider). It stays server-side, as the tokens do:
        `flow.internal` is never in the flow's JSON, and `metadata_admin` is for admins only.
        An app's flow is bound to no browser, and whoever started it need not be who signed in at
        the provider (its link can be handed to anyone), so nothing is kept: the corrected form goes
        through the provider again, as in Kratos."""
        if flow.is_browser:
            flow.internal[_CONTINUATION] = {
                **kept,
                "metadata_public": mapped.metadata_public,
                "metadata_admin": mapped.metadata_admin,
                "verified_addresses": list(mapped.verified_addresses),
            }
        flow.ui.messages.clear()
        flow.ui.nodes = [n for n in flow.ui.nodes if n.name == "csrf_token"]
        flow.ui.add(*self.schemas.nodes(schema_of(flow), group=self.traits_group, values=traits))
        flow.ui.add(
            input_node(
                METHOD,
                "provider",
                "submit",
                value=provider_id,
                label=text.sign_up_with(self.title(provider_id), provider_id),
            )
        )
        flow.active = METHOD
        trait_errors(flow, error)

    async def link_after_login(
        self, identity: dict[str, Any], pending: dict[str, Any], metadata: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Adds the provider to the identity's oidc credential (a settings link, or account linking);
        the identity service merges it with the providers already there. `metadata`: a settings
        link's web hooks' answer, saved with it."""
        entry = {k: v for k, v in pending.items() if k not in _NOT_IN_CREDENTIAL}
        return await self.identities.update_credential(identity["id"], METHOD, {"providers": [entry]}, None, metadata)

    def completes_elsewhere(self, body: dict[str, Any]) -> bool:
        return bool(body.get("link"))  # linking goes through the provider: the hooks run on its callback

    # --- settings ------------------------------------------------------------------------------
    def linked(self, identity: dict[str, Any]) -> list[str]:
        credential = (identity.get("credentials") or {}).get(METHOD) or {}
        return [i.split(":", 1)[0] for i in credential.get("identifiers") or []]

    def populate_settings(self, flow: Flow, identity: dict[str, Any]) -> None:
        linked = set(self.linked(identity))
        for provider in self.config.providers:
            if provider.id in linked:
                flow.ui.add(
                    input_node(
                        METHOD, "unlink", "submit", value=provider.id, label=text.unlink_provider(provider.title)
                    )
                )
            else:
                flow.ui.add(
                    input_node(METHOD, "link", "submit", value=provider.id, label=text.link_provider(provider.title))
                )

    def needs_privileged_session(self, body: dict[str, Any], identity: dict[str, Any]) -> bool:
        return True  # linking or unlinking changes how the account can be entered

    async def update_settings(self, flow: Flow, body: dict[str, Any], ctx: SettingsContext) -> dict[str, Any]:
        if body.get("link"):
            provider = self.chosen(flow, {"provider": body["link"]})
            self.refuse_linked_already(flow, ctx.identity, provider.config.id)
            await self.redirect(flow, provider, {}, "link")
        unlink = str(body.get("unlink") or "")
        if not unlink or unlink not in self.linked(ctx.identity):
            flow.ui.messages.append(text.validation_failed("Choose a provider to link or unlink."))
            raise FlowInvalid()
        subjects = [i for i in (ctx.identity.get("credentials") or {}).get(METHOD, {}).get("identifiers") or []]
        try:
            for identifier in (i for i in subjects if i.startswith(f"{unlink}:")):
                await self.identities.remove_credential(ctx.identity["id"], METHOD, identifier, ctx.metadata)
        except errors.BadRequest:  # the identity service keeps the last way in (shared/first_factors.py)
            flow.ui.messages.append(
                text.validation_failed("You cannot remove the last way to sign in to your account.")
            )
            raise FlowInvalid() from None
        return await self.identities.get_identity(ctx.identity["id"]) or ctx.identity

    def refuse_linked_already(self, flow: Flow, identity: dict[str, Any], provider_id: str) -> None:
        """Kratos's `isLinkable`, when a link is asked for and again where it completes (two tabs may
        have asked at once): one account per provider. A second one would hide behind the single
        Unlink button the settings show for the provider, a way in its owner cannot see."""
        if provider_id in self.linked(identity):
            flow.ui.messages.append(
                text.validation_failed("can not link unknown or already existing OpenID Connect connection")
            )
            raise FlowInvalid()

    # --- the redirect --------------------------------------------------------------------------
    def chosen(self, flow: Flow, body: dict[str, Any]) -> OAuth2Provider:
        provider = self.providers.get(str(body.get("provider") or ""))
        if provider is None:
            flow.ui.messages.append(text.validation_failed("The requested social sign-in provider is not configured."))
            raise FlowInvalid()
        return provider

    async def redirect(self, flow: Flow, provider: OAuth2Provider, body: dict[str, Any], intent: str) -> None:
        """Stores the flow's half of the dance and sends the browser to the provider (raises)."""
        pending = Pending(
            provider=provider.config.id,
            secret=random_token(),
            nonce=random_token(),
            code_verifier=None,
            intent=intent,
            traits=dict(body["traits"]) if isinstance(body.get("traits"), dict) else {},
            transient_payload=body.get("transient_payload"),
        )
        upstream = body.get("upstream_parameters")
        upstream = {k: str(v) for k, v in upstream.items() if k in _UPSTREAM} if isinstance(upstream, dict) else {}
        try:
            authorization = await provider.authorize(
                self.config.redirect_uri(provider.config.id),
                state_of(flow, pending.secret),
                pending.nonce,
                random_token(48),
                upstream,
                forced=flow.fields.get("refresh") is True,
            )
        except OidcError as exc:
            raise_provider_error(flow, exc)
        pending = Pending(**{**pending.__dict__, "code_verifier": authorization.code_verifier})
        flow.internal[PENDING_KEY] = pending.to_record()
        raise RedirectBrowser(authorization.url)

    # --- the callback --------------------------------------------------------------------------
    def take_pending(self, flow: Flow, state: str, came_back_to: str) -> Pending:
        """The flow's pending dance, taken off this copy of the flow (the caller spends it where the
        flow is stored, so that of callbacks sent at once only one goes on). The browser must have
        come back where this dance's provider was told to send it."""
        record = flow.internal.pop(PENDING_KEY, None)
        secret = state.rsplit(":", 1)[-1]
        if not record or self.config.redirect_uri(str(record.get("provider"))) != came_back_to:
            raise StateInvalid("no sign-in with this provider is pending on the flow")
        if not hmac.compare_digest(str(record.get("secret", "")), secret):
            raise StateInvalid("the state does not match the flow's")
        return Pending(**record)

    async def claims_from_callback(self, pending: Pending, query: dict[str, str]) -> tuple[Claims, dict[str, str]]:
        provider = self.providers[pending.provider]
        code = query.get("code")
        if not code:
            raise StateInvalid("the callback carries no code")
        tokens = await provider.exchange(
            code, self.config.redirect_uri(pending.provider), pending.code_verifier, callback=query
        )
        claims = await provider.claims(tokens, pending.nonce, query)
        stored = {
            "initial_access_token": self.cipher.encrypt(tokens.access_token),
            "initial_id_token": self.cipher.encrypt(tokens.id_token or ""),
            "initial_refresh_token": self.cipher.encrypt(tokens.refresh_token or ""),
        }
        return claims, stored

    async def claims_from_id_token(self, flow: Flow, body: dict[str, Any]) -> tuple[OAuth2Provider, Claims]:
        provider = self.chosen(flow, body)
        try:
            claims = await provider.claims_from_id_token(str(body["id_token"]), str(body.get("id_token_nonce") or ""))
        except OidcError as exc:
            raise_provider_error(flow, exc)
        return provider, claims


# Kratos passes only these through to the provider (`upstream_parameters`).
_UPSTREAM = {"login_hint", "hd", "prompt", "auth_type", "acr_values", "screen_hint", "domain_hint"}


def authentication_method(provider: ProviderConfig, claims: Claims) -> dict[str, Any]:
    """The session's `authentication_methods` entry for a sign-in by `provider` with these claims: at
    the level they prove, with what the provider claimed (assurance.py)."""
    return {"method": METHOD, "aal": aal_for(provider, claims), "provider": provider.id, **upstream(claims)}


def state_of(flow: Flow, secret: str) -> str:
    """`<kind>:<flow id>:<secret>`: the callback finds the flow by it, and the secret proves the
    callback belongs to the redirect this flow made."""
    return f"{flow.kind}:{flow.id}:{secret}"


def parse_state(state: str) -> tuple[str, str]:
    parts = state.split(":")
    if len(parts) != 3 or parts[0] not in ("login", "registration", "settings"):
        raise StateInvalid("the state is not one Warden issued")
    return parts[0], parts[1]


def raise_provider_error(flow: Flow, exc: Exception) -> Any:
    flow.ui.messages.append(text.validation_failed(f"Unable to complete the social sign-in: {exc}"))
    raise FlowInvalid() from None


def supported_families() -> set[str]:
    return set(FAMILIES)
