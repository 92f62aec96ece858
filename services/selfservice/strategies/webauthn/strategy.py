"""The webauthn method (Kratos's `selfservice/strategy/webauthn`): security keys as a second factor
(aal2), and with `config.passwordless: true` also as a first factor after the identifier is typed,
and a way to sign up (registration.py). Refreshing a session (aal1) asks for the identity's
passwordless keys in either mode, as Kratos does.
Settings add a key with a display name, list the keys and remove one; removing the last second factor
needs an aal2 session. The ceremonies, and registering a key, are the passkey method's
(passkey/ceremony.py, passkey/registration.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.identity_schema import schema_of
from services.selfservice.flows.login.strategy import LoginOutcome
from services.selfservice.flows.registration.strategy import RegistrationOutcome
from services.selfservice.flows.settings.strategy import SettingsContext
from services.selfservice.flows.ui import input_node
from services.selfservice.strategies.mfa import SecondFactorServices, is_aal2_login, second_factor_services
from services.selfservice.strategies.passkey import ceremony, removal, responses, script
from services.selfservice.strategies.passkey.ceremony import Challenges, RelyingParty
from services.selfservice.strategies.passkey.options import Criteria
from services.selfservice.strategies.passkey.registration import new_key
from services.selfservice.strategies.passkey.responses import Refused
from services.selfservice.strategies.registry import Dependencies, MethodSpec
from services.selfservice.strategies.webauthn import registration
from services.selfservice.traits import TraitSchemas
from shared import errors, first_factors, text
from shared.aal import AAL1, AAL2, passwordless_key
from shared.clients.ports import IdentityClient

METHOD = "webauthn"
CHALLENGE = "webauthn_challenge"  # flow.internal: the challenge of the options the flow shows
KEYS = "webauthn_keys"  # flow.internal: the ids of the keys an aal2 login asks for (login handler)
PASSWORDLESS_OWNER = "webauthn_identity_id"  # flow.internal: who a passwordless login is for
AUTOFILL = "username webauthn"  # the identifier's autocomplete, as Kratos's passwordless form has it


@dataclass(frozen=True)
class WebAuthnStrategy:
    services: SecondFactorServices
    challenges: Challenges
    rp: RelyingParty
    script_url: str
    passwordless: bool
    first_factors: frozenset[str]  # the credential types that sign in under this config
    schemas: TraitSchemas  # the identifier's label; the traits a sign-up with a key takes (registration.py)
    # Kratos's WebAuthnConfig asks security keys for no user verification (a PIN is the password's job)
    user_verification: str = "discouraged"
    method: str = METHOD
    challenge_key: ClassVar[str] = CHALLENGE

    @property
    def identities(self) -> IdentityClient:
        return self.services.identities

    @property
    def criteria(self) -> Criteria:
        """Kratos's WebAuthnConfig: a discoverable key only when it signs in alone (passwordless)."""
        resident_key = "required" if self.passwordless else "discouraged"
        return Criteria(resident_key=resident_key, user_verification=self.user_verification)

    # --- nodes -----------------------------------------------------------------------------------
    def trigger(self, flow: Flow, name: str, trigger: str, options: dict[str, Any], label: text.Message) -> None:
        """Kratos's trigger: the options in `value` and in the deprecated `onclick` call, the function
        in `onclickTrigger` for UIs that call it by name."""
        value = json.dumps(options)
        script.upsert_script(flow.ui, self.script_url)
        flow.ui.upsert(  # in place when renewed
            input_node(
                METHOD,
                name,
                "button",
                value=value,
                label=label,
                onclick=script.call(trigger, value),
                onclickTrigger=trigger,
            )
        )

    def _login_nodes(self, flow: Flow, keys: list[str], label: text.Message) -> None:
        options = ceremony.login_options(self.rp, flow, CHALLENGE, keys, self.criteria)
        self.trigger(flow, "webauthn_login_trigger", "oryWebAuthnLogin", options, label)
        if flow.ui.find("webauthn_login") is None:
            flow.ui.add(input_node(METHOD, "webauthn_login", "hidden", value=""))
            flow.ui.add(input_node(METHOD, "method", "hidden", value=METHOD))

    # --- registration (registration.py; passwordless only) ----------------------------------------
    def populate_registration(self, flow: Flow) -> None:
        registration.populate(self, flow, with_traits=True)

    def populate_registration_credentials(self, flow: Flow) -> None:
        registration.populate(self, flow, with_traits=False)

    async def register(self, flow: Flow, body: dict[str, Any]) -> RegistrationOutcome:
        return await registration.register(self, flow, body)

    # --- login -----------------------------------------------------------------------------------
    def populate_login(self, flow: Flow) -> None:
        keys = flow.internal.get(KEYS) or []
        if is_aal2_login(flow) and keys and not self.passwordless:  # passwordless keys are a first factor
            self._login_nodes(flow, keys, text.sign_in_with_hardware_key())
        elif self.passwordless and flow.fields.get("requested_aal", AAL1) == AAL1 and not flow.fields.get("refresh"):
            if flow.ui.find("identifier") is None:
                label = self.schemas.identifier_label("password", "code", "webauthn", schema_id=schema_of(flow))
                flow.ui.add(
                    input_node(
                        "default", "identifier", "text", value="", required=True, autocomplete=AUTOFILL, label=label
                    )
                )
            flow.ui.add(input_node(METHOD, "method", "submit", value=METHOD, label=text.sign_in_with_hardware_key()))

    async def populate_login_refresh(self, flow: Flow, identity_id: str) -> None:
        """Kratos's `PopulateLoginMethodFirstFactorRefresh`, in both `passwordless` modes: the session's
        identity is asked at once for its passwordless keys (`ToWebAuthnFiltered(aal1)`), its
        identifier hidden; an identity without one gets no form. A second-factor key is no way to
        re-authenticate at aal1."""
        keys = await self._key_ids(identity_id, passwordless_key)
        if not keys:
            return
        flow.internal[PASSWORDLESS_OWNER] = identity_id
        stored = await self.services.identities.get_credential(identity_id, METHOD)
        identifiers = (stored or {}).get("identifiers") or []
        if identifiers and flow.ui.find("identifier") is None:
            flow.ui.add(input_node("default", "identifier", "hidden", value=identifiers[0]))
        self._login_nodes(flow, keys, text.sign_in_with_hardware_key())

    async def login(self, flow: Flow, body: dict[str, Any]) -> LoginOutcome:
        first_factor = flow.fields.get("requested_aal", AAL1) == AAL1
        refresh = first_factor and bool(flow.fields.get("refresh"))
        if is_aal2_login(flow) and not self.passwordless:
            owner, aal = str(flow.internal["identity_id"]), AAL2
        elif first_factor and (self.passwordless or refresh):
            # As Kratos, a refresh is a passwordless sign-in in either mode (its keys: populate_login_refresh)
            owner, aal = await self._passwordless_owner(flow, body), AAL1
        else:
            flow.ui.messages.append(text.no_login_strategy())
            raise FlowInvalid()
        await self.services.check_throttle(owner)
        usable = passwordless_key if aal == AAL1 else second_factor_key
        try:
            credential = responses.parse_assertion(body.get("webauthn_login"))
            await ceremony.check_assertion(
                self.services.identities, self.challenges, self.rp, flow, CHALLENGE, METHOD, owner, credential, usable
            )
        except Refused as refused:
            await self.services.attempt(owner, succeeded=False)
            label = text.login_continue() if aal == AAL1 and not refresh else text.sign_in_with_hardware_key()
            self._login_nodes(flow, await self._key_ids(owner, usable), label)
            flow.ui.messages.append(responses.login_refusal(refused))
            raise FlowInvalid() from None
        await self.services.attempt(owner, succeeded=True)
        identity = await self.services.identities.get_identity(owner)
        if identity is None:
            flow.ui.messages.append(text.no_webauthn_user())
            raise FlowInvalid()
        return LoginOutcome(identity, {"method": METHOD, "aal": aal})

    async def _key_ids(self, owner: str, usable: Callable[[dict[str, Any]], bool]) -> list[str]:
        stored = await self.services.identities.get_credential(owner, METHOD)
        keys = ((stored or {}).get("config") or {}).get("credentials") or []
        return [k["id"] for k in keys if k.get("id") and usable(k)]

    async def _passwordless_owner(self, flow: Flow, body: dict[str, Any]) -> str:
        """The first step (an identifier, no assertion yet) answers the form with the identity's
        passwordless keys to ask for; the second checks the assertion for that identity."""
        if body.get("webauthn_login") and isinstance(flow.internal.get(PASSWORDLESS_OWNER), str):
            return str(flow.internal[PASSWORDLESS_OWNER])
        identifier = body.get("identifier")
        owner = (
            await self.services.identities.find_by_credential_identifier(METHOD, identifier.strip())
            if isinstance(identifier, str) and identifier.strip()
            else None
        )
        keys = await self._key_ids(owner["id"], passwordless_key) if owner else []
        if owner is None or not keys:
            flow.ui.messages.append(text.no_webauthn_user())
            raise FlowInvalid()
        flow.internal[PASSWORDLESS_OWNER] = owner["id"]
        # As Kratos: the other methods' nodes go ("not to confuse users"), the identifier stays hidden.
        flow.ui.nodes = [n for n in flow.ui.nodes if n.name == "csrf_token"]
        flow.ui.add(input_node("default", "identifier", "hidden", value=identifier, required=True))
        self._login_nodes(flow, keys, text.login_continue())  # Kratos's label for this second step
        flow.ui.messages.append(text.webauthn_passwordless_prepare())
        ceremony.next_screen(flow, self.services.config.flows["login"].ui_url)

    # --- settings --------------------------------------------------------------------------------
    def populate_settings(self, flow: Flow, identity: dict[str, Any]) -> None:
        keys = ceremony.stored_keys(identity, METHOD)
        credential = (identity.get("credentials") or {}).get(METHOD) or {}
        handle = (credential.get("config") or {}).get("user_handle") or ceremony.new_user_handle()
        flow.internal[registration.HANDLE] = handle
        last = first_factors.ways_in(identity.get("credentials") or {}, self.first_factors) < 2
        for key in keys:
            if last and passwordless_key(key):
                continue  # as Kratos: the last key the account signs in with offers no remove button
            label = text.remove_security_key(str(key.get("display_name") or "security key"), ceremony.added_at(key))
            flow.ui.add(input_node(METHOD, "webauthn_remove", "submit", value=removal.remove_value(key), label=label))
        self._add_key_nodes(flow, identity, handle)

    def _add_key_nodes(self, flow: Flow, identity: dict[str, Any], handle: str, name: str = "") -> None:
        """The form that adds a key, with a new challenge: on the settings page, and again after a
        refused key, whose answer spent the challenge the form showed (as a refused sign-up does)."""
        user_name = (identity.get("traits") or {}).get("email") or ""
        exclude = [k["id"] for k in ceremony.stored_keys(identity, METHOD)]
        registration.key_nodes(self, flow, handle, str(user_name), exclude, text.add_security_key(), name)

    def claims(self, body: dict[str, Any]) -> bool:
        return bool(body.get("webauthn_remove") or body.get("webauthn_register"))

    def needs_privileged_session(self, body: dict[str, Any], identity: dict[str, Any]) -> bool:
        return True

    async def update_settings(self, flow: Flow, body: dict[str, Any], ctx: SettingsContext) -> dict[str, Any]:
        stored = await self.services.identities.get_credential(ctx.identity["id"], METHOD)
        config = dict((stored or {}).get("config") or {})
        if body.get("webauthn_remove"):
            return await self._remove(flow, body["webauthn_remove"], config, ctx)
        return await self._register(flow, body, config, ctx)

    async def _remove(self, flow: Flow, key_id: Any, config: dict[str, Any], ctx: SettingsContext) -> dict[str, Any]:
        identities, identity_id = self.services.identities, ctx.identity["id"]
        keys = list(config.get("credentials") or [])
        remaining = [k for k in keys if not removal.chosen(k, key_id)]
        if len(remaining) == len(keys):
            removal.refuse_unknown(flow, "WebAuthn credential")
            raise FlowInvalid()
        # Taking away the identity's last second-factor key strips its second factor, whether
        # passwordless keys (a first factor) stay or not: from an aal2 session only.
        others = {k: v for k, v in (ctx.identity.get("credentials") or {}).items() if k != METHOD}
        after = {**others, METHOD: {"config": {"credentials": remaining}}} if remaining else others
        factors = self.services.config.assurance
        if factors.has_second_factor(ctx.identity) and not factors.has_second_factor({"credentials": after}):
            self.services.require_aal2_session(ctx.session, flow)
        try:
            if remaining:
                remaining_config = {**config, "credentials": remaining}
                return await identities.update_credential(identity_id, METHOD, remaining_config, metadata=ctx.metadata)
            updated = await identities.remove_credential(identity_id, METHOD, metadata=ctx.metadata)
        except errors.BadRequest:  # the identity service keeps the last way in (shared/first_factors.py)
            removal.refuse_lock_out(flow)
            raise FlowInvalid() from None
        await self.services.notify(updated, METHOD, added=False)
        return updated

    async def _register(
        self, flow: Flow, body: dict[str, Any], config: dict[str, Any], ctx: SettingsContext
    ) -> dict[str, Any]:
        if not self.passwordless:  # a passwordless key is a first factor: it makes no session aal2
            self.services.require_aal2_to_add(ctx.session, ctx.identity, flow)
        keys = list(config.get("credentials") or [])
        handle = config.get("user_handle") or flow.internal.get(registration.HANDLE)
        name = body.get("webauthn_register_displayname")
        try:
            key = await new_key(self, flow, body.get("webauthn_register"), handle, keys)
        except Refused as refused:
            if isinstance(handle, str):
                self._add_key_nodes(flow, ctx.identity, handle, name if isinstance(name, str) else "")
            flow.ui.messages.append(responses.registration_refusal(refused))
            raise FlowInvalid() from None
        key["display_name"] = name.strip()[:64] if isinstance(name, str) and name.strip() else "security key"
        key["is_passwordless"] = self.passwordless
        new = {**config, "credentials": [*keys, key], "user_handle": handle}
        updated = await self.services.identities.update_credential(
            ctx.identity["id"], METHOD, new, metadata=ctx.metadata
        )
        if not self.passwordless:
            await self.services.completed(ctx.session, METHOD)
        await self.services.notify(updated, METHOD, added=True)
        return updated


def second_factor_key(key: dict[str, Any]) -> bool:
    return not passwordless_key(key)


def build(deps: Dependencies) -> WebAuthnStrategy:
    rp = RelyingParty.from_settings(deps.settings, METHOD, deps.config.public_base_url)
    script_url = f"{deps.config.public_base_url.rstrip('/')}/.well-known/ory/webauthn.js"
    passwordless = bool(deps.settings.get("selfservice.methods.webauthn.config.passwordless"))
    challenges = Challenges(deps.uow, deps.flows)
    ways_in = first_factors.enabled(deps.settings)
    services = second_factor_services(deps)
    return WebAuthnStrategy(services, challenges, rp, script_url, passwordless, ways_in, deps.schemas)


SPEC = MethodSpec(id=METHOD, node_group=METHOD, credential_type=METHOD, build=build, enabled_by_default=False)
