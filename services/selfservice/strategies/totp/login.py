"""TOTP as the second step of a login (`aal=aal2`): the code of the current time step, once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.login.strategy import LoginOutcome
from services.selfservice.flows.ui import input_node
from services.selfservice.strategies.mfa import has_credential, is_aal2_login, second_factor_method, upgrading_identity
from services.selfservice.strategies.totp.codes import matching_step
from shared import text

if TYPE_CHECKING:
    from services.selfservice.strategies.totp.strategy import TotpStrategy


def populate(strategy: TotpStrategy, flow: Flow) -> None:
    if not (is_aal2_login(flow) and has_credential(flow, strategy.method)):
        return
    flow.ui.add(
        input_node(
            "totp",
            "totp_code",
            "text",
            value="",
            required=True,
            autocomplete="one-time-code",
            label=text.label_totp_code(),
        ),
        input_node("totp", "method", "submit", value="totp", label=text.use_authenticator()),
    )


async def authenticate(strategy: TotpStrategy, flow: Flow, body: dict[str, Any]) -> LoginOutcome:
    identity_id = upgrading_identity(flow)
    code = body.get("totp_code")
    if not isinstance(code, str) or not code.strip():
        flow.ui.add_node_message("totp_code", text.property_missing("totp_code"))
        raise FlowInvalid()
    await strategy.services.check_throttle(identity_id)
    url = await strategy.stored_url(identity_id)
    if url is None:
        flow.ui.messages.append(text.no_totp_device())
        raise FlowInvalid()
    step = matching_step(url, code)
    if step is None or not await strategy.steps.spend(identity_id, step):
        await strategy.services.attempt(identity_id, succeeded=False)
        flow.ui.add_node_message("totp_code", text.totp_code_invalid())
        raise FlowInvalid()
    await strategy.services.attempt(identity_id, succeeded=True)
    identity = await strategy.services.identities.get_identity(identity_id)
    if identity is None:
        flow.ui.messages.append(text.no_totp_device())
        raise FlowInvalid()
    return LoginOutcome(identity, second_factor_method(strategy.method))
