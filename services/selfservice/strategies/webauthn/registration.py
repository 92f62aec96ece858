"""Sign-up with a security key (Kratos's webauthn `registration.go`), only with `passwordless: true`:
the traits and a key registered for passwordless sign-in, in one submission, or after the traits
step of a `profile_first` registration. Without passwordless the method shows nothing here and
takes no sign-up, as in Kratos (a second factor needs an account first). The sign-up itself is the
passkey method's (passkey/registration.py); the nodes here, Kratos's for a key, serve settings too."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.identity_schema import schema_of
from services.selfservice.flows.registration.strategy import RegistrationOutcome
from services.selfservice.flows.ui import input_node
from services.selfservice.strategies.passkey import ceremony
from services.selfservice.strategies.passkey.registration import sign_up
from shared import text

if TYPE_CHECKING:
    from services.selfservice.strategies.webauthn.strategy import WebAuthnStrategy

METHOD = "webauthn"
HANDLE = "webauthn_user_handle"  # flow.internal: the user handle the options carry


def populate(strategy: WebAuthnStrategy, flow: Flow, *, with_traits: bool) -> None:
    if not strategy.passwordless:
        return
    if with_traits:  # the traits in the `default` group, in place of any another method showed (Kratos's SetNode)
        for node in strategy.schemas.nodes(schema_of(flow)):
            flow.ui.upsert(node)
    flow.internal[HANDLE] = ceremony.new_user_handle()
    _sign_up_nodes(strategy, flow)


def _sign_up_nodes(strategy: WebAuthnStrategy, flow: Flow, name: str = "") -> None:
    """Only a passwordless method registers here: a discoverable key (the strategy's criteria)."""
    key_nodes(strategy, flow, str(flow.internal[HANDLE]), "", [], text.sign_up_with_security_key(), name)


def key_nodes(
    strategy: WebAuthnStrategy,
    flow: Flow,
    handle: str,
    user_name: str,
    exclude: list[str],
    label: text.Message,
    name: str = "",
) -> None:
    """Kratos's nodes for a new key, in sign-up and settings: the key's `name`, the result, and the
    trigger with the options (and the script)."""
    options = ceremony.registration_options(
        strategy.rp, flow, strategy.challenge_key, handle, user_name, exclude, strategy.criteria
    )
    # In place when renewed, so that a form shown again keeps its order
    flow.ui.upsert(
        input_node(METHOD, "webauthn_register_displayname", "text", value=name, label=text.label_security_key_name())
    )
    flow.ui.upsert(input_node(METHOD, "webauthn_register", "hidden", value=""))
    strategy.trigger(flow, "webauthn_register_trigger", "oryWebAuthnRegistration", options, label)


async def register(strategy: WebAuthnStrategy, flow: Flow, body: dict[str, Any]) -> RegistrationOutcome:
    if not strategy.passwordless or not isinstance(flow.internal.get(HANDLE), str):
        flow.ui.messages.append(text.no_registration_strategy())
        raise FlowInvalid()
    typed = body.get("webauthn_register_displayname")
    typed = typed if isinstance(typed, str) else ""
    return await sign_up(
        strategy,
        flow,
        body,
        answer=body.get("webauthn_register"),
        handle=flow.internal[HANDLE],
        renew=lambda: _sign_up_nodes(strategy, flow, typed),  # a new challenge; the name typed stays
        described=lambda traits: {"display_name": typed.strip()[:64], "is_passwordless": True},
    )
