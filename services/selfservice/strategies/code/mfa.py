"""The code method as a second factor (Kratos's `code/strategy_login.go` at aal2, with
`selfservice.methods.code.mfa_enabled`): a signed-in aal1 session asks for a code on one of the
identity's verified addresses, and entering it upgrades the session to aal2. Codes are issued, sent
and redeemed by the same CodeSender as passwordless login's; wrong codes count toward the
per-identifier throttle as TOTP and backup codes do."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.selfservice.codes import Recipient, TriesUsedUp
from services.selfservice.flows.errors import FlowInvalid, StepCompleted
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.login.strategy import LoginOutcome
from services.selfservice.flows.request import string_field
from services.selfservice.strategies.code import nodes
from services.selfservice.strategies.code.addresses import named, normalized
from services.selfservice.strategies.mfa import is_aal2_login, second_factor_method, upgrading_identity
from shared import text

if TYPE_CHECKING:
    from services.selfservice.strategies.code.strategy import MfaCodeStrategy

KIND = "login"
ADDRESSES = "verified_addresses"  # flow.internal, set by the login handler for aal2 flows


def populate(strategy: MfaCodeStrategy, flow: Flow) -> None:
    flow.ui.add(*(nodes.address_button(address) for address in _addresses(flow)))


def offers(flow: Flow) -> bool:
    return is_aal2_login(flow) and bool(_addresses(flow))


async def authenticate(strategy: MfaCodeStrategy, flow: Flow, body: dict[str, Any]) -> LoginOutcome:
    identity_id = upgrading_identity(flow)
    if flow.state == "choose_method" or string_field(body, "resend") == "code":
        await _send(strategy, flow, body, identity_id)
    code = string_field(body, "code").strip()
    if not code:
        flow.ui.add_node_message("code", text.property_missing("code"))
        raise FlowInvalid()
    await strategy.services.check_throttle(identity_id)
    try:
        redeemed = await strategy.sender.redeem(flow, KIND, code)
    except TriesUsedUp:  # Kratos's ErrCodeSubmittedTooOften; a guess all the same
        await strategy.services.attempt(identity_id, succeeded=False)
        flow.ui.messages.append(text.code_submitted_too_often())
        raise FlowInvalid() from None
    if redeemed is None or redeemed.identity_id != identity_id:
        await strategy.services.attempt(identity_id, succeeded=False)
        flow.ui.messages.append(text.login_code_invalid())
        raise FlowInvalid()
    identity = await strategy.identities.get_identity(identity_id)
    if identity is None or not _still_verified(identity, Recipient(redeemed.address, redeemed.via)):
        # Taken off the account since its code was sent: as at the send, that address proves nothing.
        flow.ui.messages.append(text.login_code_invalid())
        raise FlowInvalid()
    await strategy.services.attempt(identity_id, succeeded=True)
    return LoginOutcome(identity, second_factor_method("code"))


async def _send(strategy: MfaCodeStrategy, flow: Flow, body: dict[str, Any], identity_id: str) -> None:
    # Kratos reads `identifier`, else `address` (its own MFA tests send `identifier`; the buttons it
    # shows are `address`), and normalises it as it stores code addresses: an email lower-cased
    # (`maybeNormalizeEmail`, then GracefulNormalization), a phone number in E.164.
    chosen = string_field(body, "identifier", "address")
    if not normalized(chosen):
        # Kratos's findIdentityForIdentifier: no address at all is a missing property.
        flow.ui.add_node_message("identifier", text.property_missing("identifier"))
        raise FlowInvalid()
    address = named(_addresses(flow), chosen)
    identity = await strategy.identities.get_identity(identity_id)
    if address is not None and not _still_verified(identity, address):
        address = None  # taken off the account (or no longer verified) since the flow was made
    if address is None:
        # Kratos looks the address up among the code credentials: an address no account has is
        # 4000035 (4010010 with `missing_credential_fallback_enabled`, which then takes any of the
        # session identity's verifiable addresses; Warden offers its verified ones whatever its
        # credentials, so the flag changes nothing here). Another account's address would get that
        # account a code from Kratos; Warden sends none and answers alike, so the two look the same.
        flow.ui.messages.append(text.no_code_user())
        raise FlowInvalid()
    await strategy.sender.admit()  # the client's code_send window
    nodes.address_code_screen(flow, address)
    await strategy.sender.send(flow, KIND, [address], identity)
    raise StepCompleted(shows_payload=True)


def _still_verified(identity: dict[str, Any] | None, address: Recipient) -> bool:
    """Whether the identity, as it is now, still has `address` verified: the flow's list is what it
    had when the flow was made, and a code must not reach an address it has given up since."""
    wanted = normalized(address.address)
    return any(
        a.get("verified") and a.get("via") == address.via and normalized(str(a.get("value") or "")) == wanted
        for a in (identity or {}).get("verifiable_addresses") or []
    )


def _addresses(flow: Flow) -> list[Recipient]:
    return [Recipient(a["value"], a["via"]) for a in flow.internal.get(ADDRESSES) or [] if isinstance(a, dict)]
