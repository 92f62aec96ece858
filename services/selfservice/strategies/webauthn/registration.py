"""Sign-up with a security key (Kratos's webauthn `registration.go`), only with `passwordless: true`:
the traits and a key registered for passwordless sign-in, in one submission, or after the traits
step of a `profile_first` registration. Without passwordless the method shows nothing here and
takes no sign-up, as in Kratos (a second factor needs an account first)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.registration.strategy import KEPT_TRAITS, RegistrationOutcome
from services.selfservice.flows.ui import input_node
from services.selfservice.strategies.passkey import ceremony, responses
from services.selfservice.strategies.passkey.responses import Refused
from services.selfservice.traits import trait_errors
from shared import errors, text

if TYPE_CHECKING:
    from services.selfservice.strategies.webauthn.strategy import WebAuthnStrategy

METHOD = "webauthn"
HANDLE = "webauthn_user_handle"  # flow.internal: the user handle the options carry


def populate(strategy: WebAuthnStrategy, flow: Flow, *, with_traits: bool) -> None:
    if not strategy.passwordless:
        return
    if with_traits:  # the traits, unless another method showed them already
        for node in strategy.schemas.nodes():
            if flow.ui.find(node.name or "") is None:
                flow.ui.add(node)
    flow.internal[HANDLE] = ceremony.new_user_handle()
    _key_nodes(strategy, flow)


def _key_nodes(strategy: WebAuthnStrategy, flow: Flow) -> None:
    """Kratos's nodes: the script, the key's name, the result and the trigger with the options."""
    handle = str(flow.internal[HANDLE])
    options = ceremony.registration_options(
        strategy.rp,
        flow,
        strategy.challenge_key,
        handle,
        "",
        [],
        strategy.criteria,  # only a passwordless method registers here: a discoverable key
    )
    ours = ("webauthn_register_displayname", "webauthn_register")
    flow.ui.nodes = [n for n in flow.ui.nodes if not (n.group == METHOD and n.name in ours)]
    flow.ui.add(
        input_node(METHOD, "webauthn_register_displayname", "text", value="", label=text.label_security_key_name()),
        input_node(METHOD, "webauthn_register", "hidden", value=""),
    )
    label = text.sign_up_with_security_key()
    strategy.trigger(flow, "webauthn_register_trigger", "oryWebAuthnRegistration", options, label)


async def register(strategy: WebAuthnStrategy, flow: Flow, body: dict[str, Any]) -> RegistrationOutcome:
    if not strategy.passwordless or not isinstance(flow.internal.get(HANDLE), str):
        flow.ui.messages.append(text.no_registration_strategy())
        raise FlowInvalid()
    schemas = strategy.schemas
    traits = schemas.coerce(body.get("traits") or flow.internal.get(KEPT_TRAITS) or {})
    for node in schemas.nodes(values=traits if isinstance(traits, dict) else {}):
        flow.ui.set_value(node.name or "", node.attributes.get("value"))
    name = body.get("webauthn_register_displayname")
    try:
        registered = responses.parse_attestation(body.get("webauthn_register"))
        key = await ceremony.verify_registration(
            strategy.challenges, strategy.rp, flow, strategy.challenge_key, registered
        )
    except Refused as refused:
        _key_nodes(strategy, flow)  # the answer spent the challenge: the form gets a new one
        flow.ui.set_value("webauthn_register_displayname", name if isinstance(name, str) else "")
        flow.ui.messages.append(responses.registration_refusal(refused))
        raise FlowInvalid() from None
    try:
        await strategy.services.identities.validate_identity({"schema_id": schemas.default_id, "traits": traits})
    except errors.BadRequest as exc:
        _key_nodes(strategy, flow)
        trait_errors(flow, exc)
        raise FlowInvalid() from None
    key["display_name"] = name.strip()[:64] if isinstance(name, str) else ""
    key["is_passwordless"] = True
    config = {"credentials": [key], "user_handle": flow.internal[HANDLE]}
    draft = {"schema_id": schemas.default_id, "traits": traits, "credentials": {METHOD: {"config": config}}}
    return RegistrationOutcome(draft, {"method": METHOD, "aal": "aal1"}, persisted=False)
