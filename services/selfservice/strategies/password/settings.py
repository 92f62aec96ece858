"""Password settings: a new password, checked against the policy, always from a privileged session."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.request import string_field
from services.selfservice.flows.settings.strategy import SettingsContext
from services.selfservice.flows.ui import input_node
from shared import errors, text

if TYPE_CHECKING:
    from services.selfservice.strategies.password.strategy import PasswordStrategy


def populate(strategy: PasswordStrategy, flow: Flow, identity: dict[str, Any]) -> None:
    flow.ui.add(
        input_node(
            "password", "password", "password", required=True, autocomplete="new-password", label=text.label_password()
        ),
        input_node("password", "method", "submit", value="password", label=text.label_save()),
    )


async def update(strategy: PasswordStrategy, flow: Flow, body: dict[str, Any], ctx: SettingsContext) -> dict[str, Any]:
    password = string_field(body, "password")
    if not password:
        flow.ui.add_node_message("password", text.property_missing("password"))
        raise FlowInvalid()
    identifiers = strategy.schemas.identifier_values(
        "password", ctx.identity.get("traits") or {}, ctx.identity.get("schema_id")
    )
    if (violation := await strategy.refusal(password, identifiers)) is not None:
        flow.ui.add_node_message("password", violation)
        raise FlowInvalid()
    try:
        return await strategy.identities.update_credential(
            ctx.identity["id"], "password", {"password": password}, metadata=ctx.metadata
        )
    except errors.BadRequest as exc:
        same = exc.error_id == errors.PASSWORD_UNCHANGED
        flow.ui.add_node_message(
            "password", text.password_same_as_old() if same else text.validation_failed(exc.reason or exc.message)
        )
        raise FlowInvalid() from None
