"""Passwordless login by code (Kratos's `code/strategy_login.go`, `passwordless_enabled`): the user
gives an identifier and gets a code on the account's code address; entering it signs them in and
proves that address.

Unlike Kratos (which answers 4000035 for an unknown identifier), an identifier without an account
gets exactly the answer a known one gets, and no code (DESIGN §9: no account enumeration); so does
one at the second step, where the code must have gone to the account it names. An account with no
code credential for the identifier is such an identifier too, unless
`missing_credential_fallback_enabled` sends the code to it (fallback.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.selfservice import code_owner
from services.selfservice.codes import ANYONE, Anyone, Recipient, Redeemed, TriesUsedUp
from services.selfservice.flows.errors import FlowInvalid, StepCompleted
from services.selfservice.flows.even_time import answered_no_sooner_than
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.identity_schema import schema_of
from services.selfservice.flows.login.strategy import LoginOutcome, first_factor_only
from services.selfservice.flows.request import string_field
from services.selfservice.flows.ui import input_node
from services.selfservice.proven_address import mark_proven
from services.selfservice.strategies.code import fallback, nodes, refresh
from services.selfservice.strategies.code.addresses import channel_of, code_addresses, normalized
from shared import text

if TYPE_CHECKING:
    from services.selfservice.strategies.code.strategy import PasswordlessCodeStrategy

KIND = "login"


def populate(strategy: PasswordlessCodeStrategy, flow: Flow) -> None:
    if flow.fields.get("requested_aal", "aal1") != "aal1":
        return  # a second factor by code is the MFA side of this method, not passwordless login
    if flow.ui.find("identifier") is None:
        flow.ui.add(identifier_node(strategy, flow))
    flow.ui.add(nodes.send_button(text.send_sign_in_code()))


def populate_identified(strategy: PasswordlessCodeStrategy, flow: Flow) -> bool:
    """Identifier-first's second screen: passwordless code works for any identifier (Kratos's
    CountActiveFirstFactorCredentials is 1 whenever passwordless is on)."""
    flow.ui.add(nodes.send_button(text.send_sign_in_code()))
    return True


def identifier_node(strategy: PasswordlessCodeStrategy, flow: Flow) -> Any:
    label = strategy.schemas.identifier_label("code", "password", schema_id=schema_of(flow))
    return input_node(
        "default", "identifier", "text", required=True, autocomplete="username webauthn", label=label, value=""
    )


async def authenticate(strategy: PasswordlessCodeStrategy, flow: Flow, body: dict[str, Any]) -> LoginOutcome:
    first_factor_only(flow)  # a code as a second factor is mfa.py's
    if flow.state == "choose_method" or string_field(body, "resend") == "code":
        if refresh.offers(flow):  # a refresh by the session's own addresses
            await refresh.send(strategy, flow, body)
        await _send(strategy, flow, body)
    return await _check(strategy, flow, body)


async def _send(strategy: PasswordlessCodeStrategy, flow: Flow, body: dict[str, Any]) -> None:
    identifier = normalized(string_field(body, "identifier", "address"))
    if not identifier:
        flow.ui.set_value("identifier", "")
        flow.ui.add_node_message("identifier", text.property_missing("identifier"))
        raise FlowInvalid()
    await strategy.sender.admit()  # the client's code_send window, before the identifier is looked up
    # An account's code is built and queued, a stand-in's is not: that made a known identifier's
    # answer measurably slower (0.4-0.6 ms at the median), so both are held to one time (even_time.py).
    async with answered_no_sooner_than():
        found, addresses = await _account(strategy, identifier)
        active = found is not None and found.get("state") == "active"
        identity = found if active and addresses else None  # a disabled account is treated as no account
        recipients = addresses if identity is not None else []
        kept = nodes.hidden(identifier_node(strategy, flow))
        kept.attributes["value"] = identifier
        nodes.code_screen(flow, [kept], text.label_login_code(), text.login_code_sent())
        stand_in = [Recipient(identifier, channel_of(identifier))]
        code_owner.remember(flow, identifier, (found or {}).get("id") or code_owner.stand_in(identifier))
        await strategy.sender.send(flow, KIND, recipients or stand_in, identity, known=identity is not None)
    raise StepCompleted(shows_payload=True)


async def _account(
    strategy: PasswordlessCodeStrategy, identifier: str
) -> tuple[dict[str, Any] | None, list[Recipient]]:
    """The account a code for `identifier` goes to, and where: the owner of a code credential for it,
    else (with the missing-credential fallback on) the owner of any credential for it, to the
    identifier itself (fallback.py). The same calls whether or not the identifier has an account,
    so that the answer's timing does not tell (a stand-in has no credential)."""
    found = await strategy.identities.find_by_credential_identifier("code", identifier)
    other = await fallback.account(strategy.identities, identifier) if strategy.fallback else None
    owner = found or {"id": code_owner.stand_in(identifier)}
    addresses = await _recipients(strategy, owner, identifier)
    if found is None and other is not None:
        return other, [fallback.recipient(identifier)]
    return found, addresses


async def _recipients(strategy: PasswordlessCodeStrategy, identity: dict[str, Any], identifier: str) -> list[Recipient]:
    """The address the identifier names if it is one of the account's, else all of them (Kratos:
    a username gets the code on every code address)."""
    addresses = await code_addresses(strategy.identities, identity["id"])
    named = [r for r in addresses if r.address == identifier]
    return named or addresses


async def _check(strategy: PasswordlessCodeStrategy, flow: Flow, body: dict[str, Any]) -> LoginOutcome:
    code = string_field(body, "code").strip()
    if not code:
        flow.ui.add_node_message("code", text.property_missing("code"))
        raise FlowInvalid()
    named = normalized(string_field(body, "address", "identifier"))
    if not named:
        # Kratos's loginVerifyCode looks up the account the step names before it tries the code:
        # none named is a missing property, and no try is spent (no code was compared).
        flow.ui.add_node_message("identifier", text.property_missing("identifier"))
        raise FlowInvalid()
    owner = await _named_account(strategy, flow, named)
    try:
        redeemed = await code_owner.counted(
            strategy.identities, flow, lambda: strategy.sender.redeem(flow, KIND, code, owner)
        )
    except TriesUsedUp:
        flow.ui.messages.append(text.code_submitted_too_often())
        raise FlowInvalid() from None
    identity = (
        await strategy.identities.get_identity(redeemed.identity_id) if redeemed and redeemed.identity_id else None
    )
    if redeemed is None or identity is None:  # wrong, used up, expired, or the stand-in of an unknown identifier
        flow.ui.messages.append(text.login_code_invalid())
        raise FlowInvalid()
    if identity.get("state") != "active":
        flow.ui.messages.append(text.identity_disabled())
        raise FlowInvalid()
    if not await _still_reaches(strategy, identity, redeemed):
        # Taken off the account since its code was sent (the owner moved away from a mailbox someone
        # else reads): as recovery, verification and the second factor refuse it, the code proves
        # nothing about this account any more.
        flow.ui.messages.append(text.login_code_invalid())
        raise FlowInvalid()
    # The code reached the address: it is proven, as in Kratos's loginVerifyCode, on this identity.
    identity = await mark_proven(strategy.identities, identity, redeemed.via, redeemed.address)
    return LoginOutcome(identity, {"method": "code", "aal": "aal1"})


async def _still_reaches(strategy: PasswordlessCodeStrategy, identity: dict[str, Any], redeemed: Redeemed) -> bool:
    """Whether a code for `identity` would still go to the address this one went to: one of its code
    addresses, or with the missing-credential fallback an identifier of its (fallback.py)."""
    wanted = normalized(redeemed.address)
    addresses = await code_addresses(strategy.identities, identity["id"])
    if any(a.via == redeemed.via and normalized(a.address) == wanted for a in addresses):
        return True
    holder = await fallback.account(strategy.identities, wanted) if strategy.fallback else None
    return holder is not None and holder.get("id") == identity["id"]


async def _named_account(strategy: PasswordlessCodeStrategy, flow: Flow, named: str) -> str | None | Anyone:
    """The account the code must have been sent for. Kratos's `loginVerifyCode` signs in the account
    the second step names (`address`, else `identifier`) and uses the flow's code only if it went to
    that account, so a code entered with another account's identifier is 4010008 and signs no one
    in. An identifier without an account is None, whose answer is the same (Kratos's 4000035 there
    would tell which identifiers have one); the step-1 identifier itself needs no lookup."""
    if named == flow.internal.get(code_owner.OWNER):
        return ANYONE
    found, _ = await _account(strategy, named)
    return found["id"] if found else None
