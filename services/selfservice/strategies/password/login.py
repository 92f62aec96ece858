"""Password login: identifier and password against the identity service, which verifies the hash
(a dummy one for unknown identifiers: same answer, same time) and upgrades imported hashes, or asks
the password migration hook for an identity imported without one. The hook's failure (Kratos's
502 or 504) goes to the client as an error, as Kratos's does: the flow cannot say it better."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.identity_schema import schema_of
from services.selfservice.flows.login.strategy import LoginOutcome, first_factor_only
from services.selfservice.flows.request import string_field
from services.selfservice.flows.ui import input_node
from shared import text
from shared.http.client_ip import client_ip

if TYPE_CHECKING:
    from services.selfservice.strategies.password.strategy import PasswordStrategy


def populate(strategy: PasswordStrategy, flow: Flow) -> None:
    if flow.fields.get("requested_aal") == "aal2":
        return  # the second step of a login asks for a second factor only
    label = strategy.schemas.identifier_label("password", schema_id=schema_of(flow))
    flow.ui.add(
        input_node(
            "default", "identifier", "text", required=True, autocomplete="username webauthn", label=label, value=""
        ),
        *_password_nodes(),
    )


def populate_identified(strategy: PasswordStrategy, flow: Flow, identity: dict[str, Any] | None) -> bool:
    """Identifier-first's second screen: the password field, for an account with a password (or an
    identifier without an account, which must look like one)."""
    if identity is not None and "password" not in (identity.get("credentials") or {}):
        return False
    flow.ui.add(*_password_nodes())
    return True


def _password_nodes() -> list[Any]:
    return [
        input_node(
            "password",
            "password",
            "password",
            required=True,
            autocomplete="current-password",
            label=text.label_password(),
        ),
        input_node("password", "method", "submit", value="password", label=text.sign_in_with_password()),
    ]


async def authenticate(strategy: PasswordStrategy, flow: Flow, body: dict[str, Any]) -> LoginOutcome:
    first_factor_only(flow)
    identifier = string_field(body, "identifier", "password_identifier")
    password = string_field(body, "password")
    flow.ui.set_value("identifier", identifier)
    missing = [name for name, value in (("identifier", identifier), ("password", password)) if not value]
    for name in missing:
        flow.ui.add_node_message(name, text.property_missing(name))
    if missing:
        raise FlowInvalid()
    identity = await strategy.identities.verify_password(identifier, password, client_ip.get())
    if identity is None:
        flow.ui.messages.append(text.invalid_credentials())
        raise FlowInvalid()
    if identity.get("state") != "active":
        flow.ui.messages.append(text.identity_disabled())
        raise FlowInvalid()
    return LoginOutcome(identity, {"method": "password", "aal": "aal1"})
