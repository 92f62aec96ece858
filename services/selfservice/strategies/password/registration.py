"""Password registration: traits from the schema, the password checked against the policy, and the
identity created by the identity service (which validates the traits and hashes the password)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.identity_schema import schema_id, schema_of
from services.selfservice.flows.registration.strategy import KEPT_TRAITS, RegistrationOutcome
from services.selfservice.flows.request import string_field
from services.selfservice.flows.ui import input_node
from services.selfservice.traits import trait_errors
from shared import errors, text

if TYPE_CHECKING:
    from services.selfservice.strategies.password.strategy import PasswordStrategy


def populate(strategy: PasswordStrategy, flow: Flow) -> None:
    """The one-step form: the traits, in `feature_flags.password_profile_registration_node_group`
    (`default`, or Kratos's former `password`: a method listed after this one that shows the traits
    itself, the passwordless code or WebAuthn, moves them back to `default`, as in Kratos), then the
    password."""
    for node in strategy.schemas.nodes(schema_of(flow), group=strategy.profile_group):
        flow.ui.upsert(node)
    populate_credentials(flow)


def populate_credentials(flow: Flow) -> None:
    """The password form (also two-step registration's credential screen, after the traits)."""
    flow.ui.add(
        input_node(
            "password", "password", "password", required=True, autocomplete="new-password", label=text.label_password()
        ),
        input_node("password", "method", "submit", value="password", label=text.sign_up()),
    )


async def register(strategy: PasswordStrategy, flow: Flow, body: dict[str, Any]) -> RegistrationOutcome:
    schema = schema_of(flow)
    traits = strategy.schemas.coerce(body.get("traits") or flow.internal.get(KEPT_TRAITS) or {}, schema)
    password = string_field(body, "password")
    for node in strategy.schemas.nodes(schema, values=traits if isinstance(traits, dict) else {}):
        flow.ui.set_value(node.name or "", node.attributes.get("value"))
    if not password:
        flow.ui.add_node_message("password", text.property_missing("password"))
        raise FlowInvalid()
    # Kratos's order (`validateCredentials`): the traits against the schema first, then the policy,
    # so an invalid email and a short password show the email's error.
    try:
        await strategy.identities.validate_identity({"schema_id": schema_id(flow, strategy.schemas), "traits": traits})
    except errors.BadRequest as exc:
        trait_errors(flow, exc)
        raise FlowInvalid() from None
    identifiers = strategy.schemas.identifier_values("password", traits, schema) if isinstance(traits, dict) else []
    if (violation := await strategy.refusal(password, identifiers)) is not None:
        flow.ui.add_node_message("password", violation)
        raise FlowInvalid()
    draft = {
        "schema_id": schema_id(flow, strategy.schemas),
        "traits": traits,
        "credentials": {"password": {"config": {"password": password}}},
    }
    return RegistrationOutcome(draft, {"method": "password", "aal": "aal1"}, persisted=False)
