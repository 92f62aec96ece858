"""Recovery by a chosen address (Kratos's recovery v2, `feature_flags.choose_recovery_address`): what
each submission does in the states `strategies/code/recovery.py` lays out. A flow is v1 or v2 from
its making (its state says which), so turning the flag off or on never breaks a flow under way.

1. `recovery_address`: one of the account's recovery addresses (an email address or a phone
   number), looked up as Kratos does, among recovery addresses alone: a username or another
   sign-in identifier names no account here, since the choice screen would tell that it has one.
   The account's recovery addresses become the options, each behind a random token the flow keeps.
   When the only option is the address typed, the code goes there at once, as in Kratos; otherwise
   the options are shown, masked (1060006).
2. `recovery_select_address`: a token; any other value is refused (4000001): the client never names
   an address. The address typed first gets the code at once (1060004 names it, masked); another
   is asked for in full (1060005), as Kratos asks: knowing one address of an account is not enough
   to have a code sent to another. On the code screen the same button is Resend.
3. `recovery_confirm_address`: the chosen address in full. Folded as addresses are compared, it
   must be the chosen one for the code to go there (to the stored address). A mismatch sends
   nothing and is answered as a match is: the code screen naming what was typed, masked, and the
   same lookups and writes (a code that redeems to no one), no sooner (even_time.py), so the
   screen is no oracle for guessing a phone number digit by digit. Kratos sends instead to what
   was typed when it is any account's recovery address; Warden to the chosen address alone.
4. `code`: as in recovery v1 (address_flow.py), guesses counted against the chosen address.
`screen=previous` goes one screen back.

No enumeration: a value that is no recovery address is its own single option, as Kratos
pretends: the code screen comes at once, naming it masked, and nothing is sent (a notice by email
with `notify_unknown_recipients`). It makes the lookups and writes an account's one address typed
in full makes, and is answered no sooner than the same time (even_time.py). What the choice screen
shows (an account with several addresses) does tell that the account exists; that is what the
feature is, and Kratos's shows the same.
"""

from __future__ import annotations

import hmac
import secrets
from typing import TYPE_CHECKING, Any

from aiohttp import web

from services.selfservice import code_owner
from services.selfservice.codes import Recipient
from services.selfservice.flows.address_flow import NO_STRATEGY, Step, Succeed, redeem, show
from services.selfservice.flows.errors import FlowDisabled
from services.selfservice.flows.even_time import answered_no_sooner_than
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.request import string_field
from services.selfservice.proven_address import holds
from services.selfservice.strategies.code import recovery as screens
from services.selfservice.strategies.code.addresses import channel_of, normalized
from shared import text
from shared.clients.ports import IdentityClient

if TYPE_CHECKING:
    from services.selfservice.service import SelfserviceContainer

KIND = "recovery"
# flow.internal: {"typed", "identity_id", "options": [...], "skipped"}, and once an address other than
# the typed one is picked, "chosen" (its token) and, once it was typed in full, "confirmation".
CHOICES = "recovery_choices"
NOT_AN_OPTION = "The selected recovery address is not valid."  # Kratos's reason


async def awaiting_address(
    c: SelfserviceContainer, request: web.Request, flow: Flow, body: dict[str, Any], _succeed: Succeed
) -> web.StreamResponse:
    if (answer := await _off_the_form(c, request, flow, body)) is not None:
        return answer
    typed = string_field(body, screens.IDENTIFIER).strip()
    if not typed:
        flow.ui.add_node_message(screens.IDENTIFIER, text.property_missing(screens.IDENTIFIER))
        return await c.engine.respond_invalid(request, flow)
    async with answered_no_sooner_than():  # known or not, the same wait
        identity, options = await _options(c.engine.identities, normalized(typed))
    skip = len(options) == 1 and options[0].address == normalized(typed)
    flow.internal[CHOICES] = {
        "typed": typed,
        "identity_id": identity["id"] if identity is not None else None,
        "options": [o.to_json() for o in options],
        "skipped": skip,
    }
    if skip:  # nothing to choose: the address typed is the only one (or no account's)
        return await _send(c, request, flow, options[0])
    screens.choice_screen(flow, typed, options)
    await c.engine.save(flow)
    return show(c, request, flow)


async def awaiting_choice(
    c: SelfserviceContainer, request: web.Request, flow: Flow, body: dict[str, Any], _succeed: Succeed
) -> web.StreamResponse:
    if (answer := await _off_the_form(c, request, flow, body)) is not None:
        return answer
    return await _chosen(c, request, flow, body)


async def awaiting_confirm(
    c: SelfserviceContainer, request: web.Request, flow: Flow, body: dict[str, Any], _succeed: Succeed
) -> web.StreamResponse:
    if (answer := await _off_the_form(c, request, flow, body)) is not None:
        return answer
    confirmation = string_field(body, screens.CONFIRM).strip()
    if not confirmation:
        flow.ui.add_node_message(screens.CONFIRM, text.property_missing(screens.CONFIRM))
        return await c.engine.respond_invalid(request, flow)
    kept = flow.internal[CHOICES]
    option = next((o for o in _kept_options(flow) if o.token == kept.get("chosen")), None)
    if option is None:  # no choice kept: start the choice again
        flow.ui.messages.append(text.validation_failed(NOT_AN_OPTION))
        return await c.engine.respond_invalid(request, flow)
    kept["confirmation"] = confirmation
    return await _send(c, request, flow, option, confirmation)


async def awaiting_code(
    c: SelfserviceContainer, request: web.Request, flow: Flow, body: dict[str, Any], succeed: Succeed
) -> web.StreamResponse:
    if (answer := await _off_the_form(c, request, flow, body)) is not None:
        return answer
    if code := string_field(body, "code"):
        return await redeem(c, request, flow, KIND, "code", code, succeed)
    if body.get(screens.SELECT):  # Resend
        return await _chosen(c, request, flow, body)
    flow.ui.add_node_message("code", text.property_missing("code"))
    return await c.engine.respond_invalid(request, flow)


STEPS: dict[str, Step] = {
    screens.AWAITING_ADDRESS: awaiting_address,
    screens.AWAITING_CHOICE: awaiting_choice,
    screens.AWAITING_CONFIRM: awaiting_confirm,
    screens.AWAITING_CODE: awaiting_code,
}


async def _off_the_form(
    c: SelfserviceContainer, request: web.Request, flow: Flow, body: dict[str, Any]
) -> web.StreamResponse | None:
    """Another method's submission (4010005), or Back; None for a step of this flow. Kratos's v2
    reads the state, not `method`, so a body without one is this method's too."""
    if body.get("method") not in (None, "", "code"):
        flow.ui.messages.append(NO_STRATEGY[KIND]())
        return await c.engine.respond_invalid(request, flow)
    if body.get(screens.SCREEN) != screens.PREVIOUS:
        return None
    kept = flow.internal.get(CHOICES)
    if flow.state in (screens.AWAITING_CONFIRM, screens.AWAITING_CODE) and kept and not kept["skipped"]:
        kept.pop("chosen", None)
        kept.pop("confirmation", None)
        screens.choice_screen(flow, kept["typed"], _kept_options(flow))
    else:
        flow.internal.pop(CHOICES, None)
        screens.address_screen(flow)
    await c.engine.save(flow)
    return show(c, request, flow)


async def _chosen(
    c: SelfserviceContainer, request: web.Request, flow: Flow, body: dict[str, Any]
) -> web.StreamResponse:
    token = string_field(body, screens.SELECT)
    if not token:
        flow.ui.messages.append(text.property_missing(screens.SELECT))
        return await c.engine.respond_invalid(request, flow)
    option = next((o for o in _kept_options(flow) if hmac.compare_digest(o.token, token)), None)
    if option is None:
        flow.ui.messages.append(text.validation_failed(NOT_AN_OPTION))
        return await c.engine.respond_invalid(request, flow)
    kept = flow.internal[CHOICES]
    if _same(option.address, kept["typed"]):  # typed in full already
        return await _send(c, request, flow, option)
    if flow.state == screens.AWAITING_CODE and kept.get("chosen") == option.token and "confirmation" in kept:
        return await _send(c, request, flow, option, kept["confirmation"])  # Resend: as confirmed
    kept["chosen"] = option.token
    kept.pop("confirmation", None)
    screens.confirm_screen(flow, kept["typed"], option)
    await c.engine.save(flow)
    return show(c, request, flow)


async def _send(
    c: SelfserviceContainer,
    request: web.Request,
    flow: Flow,
    option: screens.Option,
    confirmation: str | None = None,
) -> web.StreamResponse:
    """The code to the chosen address, the flow on its code screen. The identity is read again: an
    address it gave up since the choice gets nothing (its code would recover no one: handler.py).
    `confirmation`: the chosen address as typed in full; one that is not it gets what an unknown
    address gets, with no notice (the value typed may be anyone's), on the same screen."""
    strategy = c.address_strategies[KIND]
    if strategy.method != "code":  # `recovery.use` changed to link since the flow was made
        raise FlowDisabled(KIND)
    await c.engine.limit("code_send")
    kept = flow.internal[CHOICES]
    matches = confirmation is None or _same(option.address, confirmation)
    named = None if confirmation is None else normalized(confirmation)
    recipient = Recipient(option.address, option.via) if matches else Recipient(named or "", "none")
    async with answered_no_sooner_than():  # known or not, the same wait (even_time.py)
        identity = await c.engine.identities.get_identity(kept["identity_id"] or code_owner.stand_in(option.address))
        if identity is not None and not holds(identity, "recovery_addresses", option.via, option.address):
            identity = None
        await c.proof.deliver(
            flow,
            KIND,
            strategy,
            recipient,
            identity if matches else None,
            shown=lambda shown: screens.code_screen(shown, kept["typed"], option, named),
        )
    return show(c, request, flow)


def _same(stored: str, typed: str) -> bool:
    """Whether `typed` names the stored address, compared as the identity service folds addresses,
    in constant time (what was typed is the guess)."""
    return hmac.compare_digest(normalized(stored).encode(), normalized(typed).encode())


async def _options(identities: IdentityClient, identifier: str) -> tuple[dict[str, Any] | None, list[screens.Option]]:
    """The account whose recovery address `identifier` is, and its recovery addresses (sorted, as
    Kratos lists them), or no account and the identifier itself as the one option."""
    via = channel_of(identifier)
    identity = await identities.find_by_address(KIND, via, identifier) if via != "none" else None
    addresses = sorted((a["value"], a["via"]) for a in (identity or {}).get("recovery_addresses") or [])
    if not addresses:
        return identity, [_option(via, identifier)]
    return identity, [_option(a_via, value) for value, a_via in addresses]


def _option(via: str, address: str) -> screens.Option:
    return screens.Option(secrets.token_urlsafe(32), via, address)


def _kept_options(flow: Flow) -> list[screens.Option]:
    kept = flow.internal.get(CHOICES) or {}
    return [screens.Option(**o) for o in kept.get("options") or []]
