"""Registration by code (Kratos's `code/strategy_registration.go`): the traits are checked and a code
goes to each code address the schema names (`ory.sh/kratos.credentials.code.identifier` with
`via: email` or `sms`); entering it, with the same traits, creates the identity with that address
verified. The traits are kept with the flow, so a changed trait is refused (4000036)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.selfservice import code_owner
from services.selfservice.codes import Recipient, TriesUsedUp
from services.selfservice.flows.errors import FlowInvalid, StepCompleted
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.identity_schema import schema_id, schema_of
from services.selfservice.flows.registration.strategy import KEPT_TRAITS as TRAITS
from services.selfservice.flows.registration.strategy import RegistrationOutcome
from services.selfservice.flows.request import string_field
from services.selfservice.flows.ui import input_node
from services.selfservice.strategies.code import nodes
from services.selfservice.traits import trait_errors
from shared import errors, text

if TYPE_CHECKING:
    from services.selfservice.strategies.code.strategy import PasswordlessCodeStrategy

KIND = "registration"


def populate(strategy: PasswordlessCodeStrategy, flow: Flow) -> None:
    """The traits in the `default` group, in place of any another method showed (Kratos's code
    method upserts them there, so that a form shows each field once), then the button."""
    for node in strategy.schemas.nodes(schema_of(flow)):
        flow.ui.upsert(node)
    populate_credentials(flow)


def populate_credentials(flow: Flow) -> None:
    """The code's button on two-step registration's credential screen (and after the traits)."""
    flow.ui.add(nodes.send_button(text.send_sign_up_code()))


async def register(strategy: PasswordlessCodeStrategy, flow: Flow, body: dict[str, Any]) -> RegistrationOutcome:
    if flow.state == "choose_method" or string_field(body, "resend") == "code":
        await _send(strategy, flow, body)
    return await _check(strategy, flow, body)


def _traits(strategy: PasswordlessCodeStrategy, flow: Flow, body: dict[str, Any]) -> Any:
    given = body.get("traits")
    schema = schema_of(flow)
    traits = strategy.schemas.coerce(given if given is not None else flow.internal.get(TRAITS) or {}, schema)
    for node in strategy.schemas.nodes(schema, values=traits if isinstance(traits, dict) else {}):
        flow.ui.set_value(node.name or "", node.attributes.get("value"))
    return traits


async def _send(strategy: PasswordlessCodeStrategy, flow: Flow, body: dict[str, Any]) -> None:
    traits = _traits(strategy, flow, body)
    try:
        would_be = await strategy.identities.validate_identity(
            {"schema_id": schema_id(flow, strategy.schemas), "traits": traits}
        )
    except errors.BadRequest as exc:
        trait_errors(flow, exc)
        raise FlowInvalid() from None
    code = (would_be.get("credentials") or {}).get("code") or {}
    recipients = [Recipient(a["address"], a["channel"]) for a in (code.get("config") or {}).get("addresses") or []]
    if not recipients:
        flow.ui.messages.append(text.identifier_missing())
        raise FlowInvalid()
    await strategy.sender.admit(len(recipients))  # one message per address, on the client's code_send window
    kept = [nodes.hidden(n) for n in strategy.schemas.nodes(schema_of(flow), values=traits)]
    back = (
        input_node("profile", "screen", "submit", value="credential-selection", label=text.registration_back())
        if strategy.two_step
        else None
    )
    nodes.code_screen(flow, kept, text.label_registration_code(), text.registration_code_sent(), back)
    flow.internal[TRAITS] = traits
    code_owner.remember_all(flow, [r.address for r in recipients])
    await strategy.sender.send(flow, KIND, recipients, None, traits=traits)
    raise StepCompleted(shows_payload=True)


async def _check(strategy: PasswordlessCodeStrategy, flow: Flow, body: dict[str, Any]) -> RegistrationOutcome:
    code = string_field(body, "code").strip()
    if not code:
        flow.ui.add_node_message("code", text.property_missing("code"))
        raise FlowInvalid()
    if body.get("traits") is None:
        # Kratos's registrationVerifyCode wants the traits again, as the code screen's hidden fields
        # post them, and answers their absence as a missing property before it tries the code (the
        # first step's kept traits are only what the resubmitted ones are checked against).
        flow.ui.add_node_message("traits", text.property_missing("traits"))
        raise FlowInvalid()
    traits = _traits(strategy, flow, body)
    if _meaningful(traits) != _meaningful(flow.internal.get(TRAITS)):
        flow.ui.messages.append(text.traits_mismatch())
        raise FlowInvalid()
    try:
        redeemed = await code_owner.counted(strategy.identities, flow, lambda: strategy.sender.redeem(flow, KIND, code))
    except TriesUsedUp:  # Kratos's ErrCodeSubmittedTooOften, as login's
        flow.ui.messages.append(text.code_submitted_too_often())
        raise FlowInvalid() from None
    if redeemed is None:
        flow.ui.messages.append(text.registration_code_invalid())
        raise FlowInvalid()
    # The flow creates the identity after its interrupting hooks; the code proved this address.
    draft = {"schema_id": schema_id(flow, strategy.schemas), "traits": flow.internal[TRAITS]}
    proven = {"via": redeemed.via, "value": redeemed.address}
    return RegistrationOutcome(draft, {"method": "code", "aal": "aal1"}, persisted=False, proven=proven)


def _meaningful(value: Any) -> Any:
    """Traits without empty values: a form posts an empty hidden field where JSON leaves the key out."""
    if isinstance(value, dict):
        kept = {k: _meaningful(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, "", {})}
    return value
