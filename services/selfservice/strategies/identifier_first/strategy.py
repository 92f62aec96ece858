"""Identifier-first login (`selfservice.flows.login.style: identifier_first`, Kratos's
`selfservice/strategy/idfirst`): the first screen asks only for the identifier; the second offers
the methods the account has, each added by its own method (`populate_login_identified`).

An identifier without an account is offered every enabled method, as an account that has them all
would be, so the second screen does not tell whether the account exists (Kratos answers 4000037
there unless `security.account_enumeration.mitigate`; with that key on, every identifier is offered
every method, as in Kratos)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from services.selfservice.flows.errors import FlowInvalid, StepCompleted
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.identity_schema import schema_of
from services.selfservice.flows.login.strategy import LoginOutcome, first_factor_only
from services.selfservice.flows.request import string_field
from services.selfservice.flows.ui import input_node
from services.selfservice.strategies.code.addresses import normalized
from services.selfservice.traits import TraitSchemas
from shared import text
from shared.clients.ports import IdentityClient

METHOD = GROUP = "identifier_first"
# The credential types whose identifiers a person types in to sign in, in the order they are tried.
IDENTIFIER_TYPES = ("password", "code", "webauthn")


@runtime_checkable
class IdentifiedLogin(Protocol):
    def populate_login_identified(self, flow: Flow, identity: dict[str, Any] | None) -> bool:
        """Adds the method's second-screen nodes if `identity` can use it (None: an identifier
        without an account, offered everything); True if it added any."""
        ...


def first_screen(flow: Flow) -> bool:
    """Whether a new login flow starts with the identifier alone (a refresh or a second factor
    already knows who is signing in)."""
    return not flow.fields.get("refresh") and flow.fields.get("requested_aal", "aal1") == "aal1"


class IdentifierFirstStrategy:
    method = METHOD

    def __init__(
        self, identities: IdentityClient, schemas: TraitSchemas, methods: Sequence[Any], *, mitigate: bool = False
    ) -> None:
        self.identities = identities
        self.schemas = schemas
        self.methods = [m for m in methods if isinstance(m, IdentifiedLogin)]
        self.mitigate = mitigate

    def populate_login(self, flow: Flow) -> None:
        flow.ui.add(
            self._identifier(flow, "text", ""),
            input_node(GROUP, "method", "submit", value=METHOD, label=text.label_continue()),
        )

    async def login(self, flow: Flow, body: dict[str, Any]) -> LoginOutcome:
        first_factor_only(flow)
        identifier = string_field(body, "identifier").strip()
        if not identifier:
            flow.ui.add_node_message("identifier", text.property_missing("identifier"))
            raise FlowInvalid()
        identity = None if self.mitigate else await self._find(normalized(identifier))
        flow.ui.nodes = [n for n in flow.ui.nodes if n.name == "csrf_token"]
        flow.ui.add(self._identifier(flow, "hidden", identifier))
        offered = [m.populate_login_identified(flow, identity) for m in self.methods]
        if not any(offered):  # an account whose methods are all switched off
            flow.ui.messages.append(text.account_not_found())
            raise FlowInvalid()
        flow.active = METHOD
        raise StepCompleted()

    async def _find(self, identifier: str) -> dict[str, Any] | None:
        # Every type is asked whatever the first answer, so a known identifier costs what an unknown one does.
        found = [await self.identities.find_by_credential_identifier(t, identifier) for t in IDENTIFIER_TYPES]
        return next((identity for identity in found if identity is not None), None)

    def _identifier(self, flow: Flow, input_type: str, value: str) -> Any:
        label = self.schemas.identifier_label("password", "code", schema_id=schema_of(flow))
        return input_node(
            GROUP,
            "identifier",
            input_type,
            required=True,
            autocomplete="username webauthn",
            label=label,
            value=value,
        )
