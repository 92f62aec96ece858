"""Two-step registration (`selfservice.flows.registration.style: profile_first`, Kratos's
`strategy/profile/two_step_registration.go`): the traits first, checked by the identity service;
then the credential, each method adding its form (`populate_registration_credentials`) beside a
Back button (`screen: previous`). Methods that show a screen of their own (the code) go back to the
credential selection with `screen: credential-selection`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from services.selfservice.flows.errors import FlowInvalid, StepCompleted
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.identity_schema import schema_id, schema_of
from services.selfservice.flows.registration.strategy import KEPT_TRAITS, RegistrationOutcome
from services.selfservice.flows.ui import Node, input_node
from services.selfservice.traits import TraitSchemas, trait_errors
from shared import errors, text
from shared.clients.ports import IdentityClient

METHOD = GROUP = "profile"
PROFILE_FIRST = "profile_first"  # the registration style this strategy serves
PREVIOUS, CREDENTIAL_SELECTION = "previous", "credential-selection"


@runtime_checkable
class CredentialStep(Protocol):
    def populate_registration_credentials(self, flow: Flow) -> None:
        """The method's form on the credential screen (the traits are already there, hidden)."""
        ...


def method_of(body: dict[str, Any]) -> Any:
    """The method a two-step submission is for: any `screen` is navigation, the profile's business."""
    return METHOD if body.get("screen") else body.get("method")


class ProfileFirstRegistration:
    method = METHOD

    def __init__(self, identities: IdentityClient, schemas: TraitSchemas, methods: Sequence[Any]) -> None:
        self.identities = identities
        self.schemas = schemas
        self.methods = [m for m in methods if isinstance(m, CredentialStep)]

    def populate_registration(self, flow: Flow) -> None:
        self._profile_screen(flow, {})

    async def register(self, flow: Flow, body: dict[str, Any]) -> RegistrationOutcome:
        given = body.get("traits")
        traits = self.schemas.coerce(
            given if given is not None else flow.internal.get(KEPT_TRAITS) or {}, schema_of(flow)
        )
        flow.state, flow.active = "choose_method", None
        if body.get("screen") == PREVIOUS:
            self._profile_screen(flow, traits if isinstance(traits, dict) else {})
            raise StepCompleted()
        try:
            await self.identities.validate_identity({"schema_id": schema_id(flow, self.schemas), "traits": traits})
        except errors.BadRequest as exc:
            self._profile_screen(flow, traits if isinstance(traits, dict) else {})
            trait_errors(flow, exc)
            raise FlowInvalid() from None
        flow.internal[KEPT_TRAITS] = traits
        flow.ui.nodes = [n for n in flow.ui.nodes if n.name == "csrf_token"]
        flow.ui.add(*(_hidden(n) for n in self.schemas.nodes(schema_of(flow), values=traits)))
        for method in self.methods:
            method.populate_registration_credentials(flow)
        flow.ui.add(input_node(GROUP, "screen", "submit", value=PREVIOUS, label=text.registration_back()))
        flow.ui.messages = [text.choose_credentials()]
        raise StepCompleted(shows_payload=True)

    def _profile_screen(self, flow: Flow, traits: dict[str, Any]) -> None:
        flow.ui.nodes = [n for n in flow.ui.nodes if n.name == "csrf_token"]
        flow.ui.add(*self.schemas.nodes(schema_of(flow), values=traits))
        flow.ui.add(input_node(GROUP, "method", "submit", value=METHOD, label=text.sign_up()))


def _hidden(node: Node) -> Node:
    attributes = {"name": node.name, "type": "hidden", "disabled": False}
    if node.attributes.get("value") is not None:
        attributes["value"] = node.attributes["value"]
    return Node(node.group, attributes)
