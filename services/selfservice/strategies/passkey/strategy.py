"""The passkey method (Kratos's `selfservice/strategy/passkey`): a first factor with discoverable
credentials. Login types no identifier: the assertion's user handle names the account. Sign-up and
settings register a key; settings remove one. A key's user handle is random per identity and is the
credential's identifier in the identity service."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.identity_schema import schema_of
from services.selfservice.flows.login.strategy import LoginOutcome, first_factor_only
from services.selfservice.flows.registration.strategy import RegistrationOutcome
from services.selfservice.flows.settings.strategy import SettingsContext
from services.selfservice.flows.ui import input_node
from services.selfservice.strategies.passkey import ceremony, registration, removal, responses, script
from services.selfservice.strategies.passkey.ceremony import Challenges, RelyingParty
from services.selfservice.strategies.passkey.options import Criteria, passkey_criteria
from services.selfservice.strategies.passkey.responses import Refused
from services.selfservice.strategies.registry import Dependencies, MethodSpec
from services.selfservice.traits import TraitSchemas
from shared import errors, first_factors, passkey_handles, text
from shared.aal import passwordless_key
from shared.clients.ports import IdentityClient

METHOD = "passkey"
SECURITY_KEYS = "webauthn"  # the credential type a passkey sign-in falls back to (Kratos's migration path)
KeyFilter = Callable[[dict[str, Any]], bool]
CHALLENGE = "passkey_challenge"  # flow.internal: the challenge of the options the flow shows
HANDLE = "passkey_user_handle"  # flow.internal: the user handle a registration's options carry
AUTOFILL = "username webauthn"  # the identifier's autocomplete: passkeys offered among its suggestions
LOGIN_TRIGGER, AUTOFILL_TRIGGER = "oryPasskeyLogin", "oryPasskeyLoginAutocompleteInit"


@dataclass(frozen=True)
class PasskeyStrategy:
    identities: IdentityClient
    schemas: TraitSchemas
    challenges: Challenges
    rp: RelyingParty
    script_url: str
    first_factors: frozenset[str]  # the credential types that sign in under this config
    login_ui_url: str
    criteria: Criteria = Criteria(resident_key="required")  # selfservice.methods.passkey.config
    method: str = METHOD
    challenge_key: ClassVar[str] = CHALLENGE

    # --- login -----------------------------------------------------------------------------------
    def populate_login(self, flow: Flow) -> None:
        if flow.fields.get("requested_aal", "aal1") != "aal1" or flow.fields.get("refresh"):
            return
        self._login_nodes(flow)

    def _login_nodes(self, flow: Flow) -> None:
        """Kratos's passkey login form: the identifier field (offering passkeys in its autofill), the
        request options, the script, the result with its autofill trigger, and the button."""
        options = ceremony.login_options(self.rp, flow, CHALLENGE, [], self.criteria)
        flow.ui.nodes = [n for n in flow.ui.nodes if n.group != METHOD]
        if flow.ui.find("identifier") is None:
            label = self.schemas.identifier_label("password", "code", "webauthn", schema_id=schema_of(flow))
            flow.ui.add(
                input_node("default", "identifier", "text", value="", required=True, autocomplete=AUTOFILL, label=label)
            )
        flow.ui.add(input_node(METHOD, "passkey_challenge", "hidden", value=json.dumps(options)))
        script.upsert_script(flow.ui, self.script_url)
        flow.ui.add(
            # As Kratos: on load, the browser is asked for a passkey to offer in the identifier's autofill.
            input_node(
                METHOD,
                "passkey_login",
                "hidden",
                value="",
                onload=script.call(AUTOFILL_TRIGGER),
                onloadTrigger=AUTOFILL_TRIGGER,
            ),
            input_node(
                METHOD,
                "passkey_login_trigger",
                "button",
                value="",
                label=text.sign_in_with_passkey(),
                onclick=script.call(LOGIN_TRIGGER),
                onclickTrigger=LOGIN_TRIGGER,
            ),
        )

    async def login(self, flow: Flow, body: dict[str, Any]) -> LoginOutcome:
        first_factor_only(flow)
        if not body.get("passkey_login"):  # `method: passkey` alone: Kratos shows the passkey form anew
            flow.ui.nodes = [n for n in flow.ui.nodes if n.name == "csrf_token"]
            self._login_nodes(flow)
            ceremony.next_screen(flow, self.login_ui_url)
        try:
            credential = responses.parse_assertion(body.get("passkey_login"))
            found = await self._owner(credential)
            if found is None:
                flow.internal.pop(CHALLENGE, None)  # spent all the same
                self._login_nodes(flow)
                flow.ui.messages.append(text.no_webauthn_user())
                raise FlowInvalid()
            owner, credential_type, usable = found
            await ceremony.check_assertion(
                self.identities,
                self.challenges,
                self.rp,
                flow,
                CHALLENGE,
                credential_type,
                owner["id"],
                credential,
                usable=usable,
                verify_user=self.criteria.verifies_user,
            )
        except Refused as refused:
            self._login_nodes(flow)
            flow.ui.messages.append(responses.login_refusal(refused))
            raise FlowInvalid() from None
        identity = await self.identities.get_identity(owner["id"])
        if identity is None:
            self._login_nodes(flow)
            flow.ui.messages.append(text.no_webauthn_user())
            raise FlowInvalid()
        return LoginOutcome(identity, {"method": METHOD, "aal": "aal1"})

    async def _owner(self, credential: dict[str, Any]) -> tuple[dict[str, Any], str, KeyFilter] | None:
        """Whose key signed, the credential type it is kept under, and which of that type's keys may
        sign in. The assertion's user handle is a passkey credential's identifier (Kratos:
        FindByCredentialsIdentifier). When no passkey has it, Kratos's migration path: the security
        keys (`webauthn`) whose config has this user handle, and of them only those registered
        passwordless (`PasswordlessOnly`): a second-factor key never signs in alone. None for a
        handle no account has, or none at all."""
        for identifier in ceremony.credential_identifiers(credential):
            if (owner := await self.identities.find_by_credential_identifier(METHOD, identifier)) is not None:
                return owner, METHOD, signs_in_alone
        handle = ceremony.user_handle(credential)
        if handle and (owner := await self.identities.find_by_webauthn_user_handle(handle)) is not None:
            return owner, SECURITY_KEYS, passwordless_key
        return None

    # --- registration ----------------------------------------------------------------------------
    def populate_registration(self, flow: Flow) -> None:
        for node in self.schemas.nodes(schema_of(flow)):  # the traits, unless another method showed them
            if flow.ui.find(node.name or "") is None:
                flow.ui.add(node)
        self.populate_registration_credentials(flow)

    def populate_registration_credentials(self, flow: Flow) -> None:
        """The passkey form alone: on a one-step form beside the traits, and on the credential screen
        of a `profile_first` registration after the traits were given (Kratos's
        PopulateRegistrationMethodCredentials); `register` takes the traits that step kept."""
        handle = ceremony.new_user_handle()
        flow.internal[HANDLE] = handle
        self._register_nodes(flow, handle, "", "passkey_register", "oryPasskeyRegistration", [], schema_of(flow))

    def _register_nodes(
        self,
        flow: Flow,
        handle: str,
        user_name: str,
        result: str,
        trigger: str,
        exclude: list[str],
        schema_id: str | None,
    ) -> None:
        """`schema_id`: the schema whose traits name the key (the flow's in a sign-up, the identity's
        in the settings)."""
        options = ceremony.registration_options(self.rp, flow, CHALLENGE, handle, user_name, exclude, self.criteria)
        fields = self.schemas.fields(schema_id)
        display_field = next(
            (f"traits.{f.path}" for f in fields if f.marks(METHOD, "display_name")),
            next((f"traits.{f.path}" for f in fields if f.marks("password", "identifier")), ""),
        )
        label = text.sign_up_with_passkey() if trigger == "oryPasskeyRegistration" else text.add_passkey()
        create_data = {"credentialOptions": options, "displayNameFieldName": display_field}
        # In place when renewed, so that a form shown again keeps its order
        flow.ui.upsert(input_node(METHOD, "passkey_create_data", "hidden", value=json.dumps(create_data)))
        flow.ui.upsert(
            input_node(
                METHOD,
                "passkey_register_trigger",
                "button",
                value="",
                label=label,
                onclick=script.call(trigger),
                onclickTrigger=trigger,
            )
        )
        script.upsert_script(flow.ui, self.script_url)
        flow.ui.upsert(input_node(METHOD, result, "hidden", value=""))

    async def register(self, flow: Flow, body: dict[str, Any]) -> RegistrationOutcome:
        return await registration.sign_up(
            self,
            flow,
            body,
            answer=body.get("passkey_register"),
            handle=flow.internal.get(HANDLE),
            renew=lambda: self._renew_registration(flow),
            described=lambda traits: self._described(traits, schema_of(flow)),
        )

    def _described(self, traits: Any, schema_id: str | None) -> dict[str, Any]:
        """A passkey is called by the trait its schema marks as its display name."""
        names = (
            self.schemas.marked_values(METHOD, "display_name", traits, schema_id) if isinstance(traits, dict) else []
        )
        return {"display_name": names[0] if names else "passkey", "is_passwordless": True}  # as Kratos stores it

    def _renew_registration(self, flow: Flow) -> None:
        """A failed attempt spent the challenge: the form gets a new one (same user handle)."""
        handle = flow.internal.get(HANDLE)
        if isinstance(handle, str):
            self._register_nodes(flow, handle, "", "passkey_register", "oryPasskeyRegistration", [], schema_of(flow))

    # --- settings --------------------------------------------------------------------------------
    def populate_settings(self, flow: Flow, identity: dict[str, Any]) -> None:
        credential = (identity.get("credentials") or {}).get(METHOD) or {}
        stored = (credential.get("config") or {}).get("user_handle")
        handle = stored if isinstance(stored, str) and stored else ceremony.new_user_handle()
        flow.internal[HANDLE] = handle
        self._add_key_nodes(flow, identity, handle)
        keys = ceremony.stored_keys(identity, METHOD)
        # Kratos shows the last way in, disabled
        last = first_factors.ways_in(identity.get("credentials") or {}, self.first_factors) < 2
        for key in keys:
            flow.ui.add(
                input_node(
                    METHOD,
                    "passkey_remove",
                    "submit",
                    value=removal.remove_value(key),
                    label=text.remove_passkey(str(key.get("display_name") or "passkey"), ceremony.added_at(key)),
                    disabled=last,
                )
            )

    def _add_key_nodes(self, flow: Flow, identity: dict[str, Any], handle: str) -> None:
        """The form that adds a passkey, with a new challenge: on the settings page, and again after
        a refused passkey, whose answer spent the challenge the form showed (as a refused sign-up does)."""
        schema_id = identity.get("schema_id")
        names = self.schemas.marked_values(METHOD, "display_name", identity.get("traits") or {}, schema_id)
        self._register_nodes(
            flow,
            handle,
            names[0] if names else "",
            "passkey_settings_register",
            "oryPasskeySettingsRegistration",
            [k["id"] for k in ceremony.stored_keys(identity, METHOD)],
            schema_id,
        )

    def claims(self, body: dict[str, Any]) -> bool:
        """The script submits the form without a `method` (as Kratos's does): the result names it."""
        return any(
            body.get(k) for k in ("passkey_login", "passkey_register", "passkey_settings_register", "passkey_remove")
        )

    def needs_privileged_session(self, body: dict[str, Any], identity: dict[str, Any]) -> bool:
        return True

    async def update_settings(self, flow: Flow, body: dict[str, Any], ctx: SettingsContext) -> dict[str, Any]:
        identity_id = ctx.identity["id"]
        stored = await self.identities.get_credential(identity_id, METHOD)
        config = dict((stored or {}).get("config") or {})
        keys = list(config.get("credentials") or [])
        if body.get("passkey_remove"):
            return await self._remove(flow, body["passkey_remove"], config, ctx)
        handle = config.get("user_handle") or flow.internal.get(HANDLE)
        try:
            key = await registration.new_key(self, flow, body.get("passkey_settings_register"), handle, keys)
        except Refused as refused:
            if isinstance(handle, str):
                self._add_key_nodes(flow, ctx.identity, handle)
            flow.ui.messages.append(responses.registration_refusal(refused))
            raise FlowInvalid() from None
        key.update(self._described(ctx.identity.get("traits") or {}, ctx.identity.get("schema_id")))
        new = {**config, "credentials": [*keys, key], "user_handle": handle}
        found_by = passkey_handles.identifier_of(str(handle))  # a str: new_key refuses any other
        return await self.identities.update_credential(identity_id, METHOD, new, [found_by], ctx.metadata)

    async def _remove(self, flow: Flow, value: Any, config: dict[str, Any], ctx: SettingsContext) -> dict[str, Any]:
        keys = list(config.get("credentials") or [])
        remaining = [k for k in keys if not removal.chosen(k, value)]
        if len(remaining) == len(keys):
            removal.refuse_unknown(flow, "passkey")
            raise FlowInvalid()
        identity_id = ctx.identity["id"]
        try:
            if not remaining:  # as Kratos: the last passkey taken out takes the credential with it
                return await self.identities.remove_credential(identity_id, METHOD, metadata=ctx.metadata)
            new = {**config, "credentials": remaining}
            return await self.identities.update_credential(identity_id, METHOD, new, metadata=ctx.metadata)
        except errors.BadRequest:  # the identity service keeps the last way in (shared/first_factors.py)
            removal.refuse_lock_out(flow)
            raise FlowInvalid() from None


def signs_in_alone(key: dict[str, Any]) -> bool:
    """Kratos's passkey login takes only keys flagged passwordless (`PasswordlessOnly`): one an admin
    imported with `is_passwordless: false` does not sign in. A key without the flag is one Warden
    registered before it stored the flag (Kratos always stores it, true for a passkey): it signs in,
    or those accounts would lose their way in."""
    return key.get("is_passwordless") is not False


def build(deps: Dependencies) -> PasskeyStrategy:
    rp = RelyingParty.from_settings(deps.settings, METHOD, deps.config.public_base_url)
    script = f"{deps.config.public_base_url.rstrip('/')}/.well-known/ory/webauthn.js"
    challenges = Challenges(deps.uow, deps.flows)
    ways_in, login_ui = first_factors.enabled(deps.settings), deps.config.flows["login"].ui_url
    criteria = passkey_criteria(deps.settings)
    return PasskeyStrategy(deps.identities, deps.schemas, challenges, rp, script, ways_in, login_ui, criteria)


SPEC = MethodSpec(
    id=METHOD,
    node_group=METHOD,
    credential_type=METHOD,
    build=build,
    enabled_by_default=False,
    routes=(script.ROUTE,),  # served whatever is enabled: Kratos's UIs load it unconditionally
)
