"""The routes verification and recovery share (Kratos's two handlers differ only in what success
does): init, fetch, submit an address, submit a code, follow a link."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from aiohttp import web

from services.selfservice import code_owner
from services.selfservice.codes import Recipient, Redeemed, TriesUsedUp
from services.selfservice.flows.errors import FlowCompleted, FlowDisabled, SessionAlreadyAvailable
from services.selfservice.flows.even_time import answered_no_sooner_than
from services.selfservice.flows.flow import API, BROWSER, Flow
from services.selfservice.flows.request import read_body, string_field, wants_json
from shared import text
from shared.email_syntax import is_email
from shared.errors import TooManyRequests
from shared.identifiers import fold_address
from shared.service import Handler, Route

if TYPE_CHECKING:
    from services.selfservice.config import SelfserviceConfig
    from services.selfservice.flows.engine import FlowEngine
    from services.selfservice.flows.verification.proof import AddressProof
    from services.selfservice.service import SelfserviceContainer

Succeed = Callable[["SelfserviceContainer", web.Request, Flow, Redeemed], Awaitable[web.StreamResponse]]
# A submission to a flow in a state its kind handles itself (recovery by a chosen address):
# (container, request, flow, body, what success does) -> the answer.
Step = Callable[["SelfserviceContainer", web.Request, Flow, dict[str, Any], Succeed], Awaitable[web.StreamResponse]]
NO_STRATEGY = {"verification": text.no_verification_strategy, "recovery": text.no_recovery_strategy}
# Kratos's answer to a submission on a completed flow (`retry…FlowWithMessage(…RetrySuccess)`).
COMPLETED = {"verification": text.verification_already_completed, "recovery": text.recovery_already_completed}
INVALID = {
    ("verification", "code"): text.verification_code_invalid,
    ("verification", "link"): text.verification_token_invalid,
    ("recovery", "code"): text.recovery_code_invalid,
    ("recovery", "link"): text.recovery_token_invalid,
}


def address_flow_routes(
    kind: str, succeed: Succeed, *, refuse_sessions: bool, steps: Mapping[str, Step] | None = None
) -> list[Route[SelfserviceContainer]]:
    """`steps`: by flow state, the submissions the kind handles itself (after the CSRF check and
    the per-client limit, before anything else)."""

    def init(flow_type: str) -> Handler[SelfserviceContainer]:
        async def handler(c: SelfserviceContainer, request: web.Request) -> web.StreamResponse:
            if not c.config.flows[kind].enabled:
                raise FlowDisabled(kind)
            if refuse_sessions and await c.engine.current_session(request) is not None:
                raise SessionAlreadyAvailable(kind)
            flow = await new_address_flow(c, request, kind, flow_type)
            return c.engine.respond_new(request, flow)

        return handler

    async def get_flow(c: SelfserviceContainer, request: web.Request) -> web.Response:
        return web.json_response((await c.engine.load_for_reading(request, kind)).to_json())

    async def submit(c: SelfserviceContainer, request: web.Request) -> web.StreamResponse:
        flow = await c.engine.load_submitted(request, kind)
        if flow.expired():
            fresh = await new_address_flow(c, request, kind, flow.type)
            return await c.engine.replace_expired(request, flow, replacement=fresh)
        strategy = _strategy(c, kind)
        if request.method == "GET":  # a link (token) or a code link clicked in a mail
            if "token" not in request.query and kind != "verification":
                # Recovery codes are typed, never followed: a link carrying one would let an attacker
                # sign a victim's browser into the attacker's account.
                return c.engine.ui_redirect(flow)
            if "token" not in request.query:
                return await _prefill_code(c, flow, request.query.get("code", ""))
            return await redeem(c, request, flow, kind, "link", request.query["token"], succeed)
        body = await read_body(request)
        c.engine.check_submission(request, flow, body)
        flow.transient_payload = body.get(
            "transient_payload"
        )  # for the after web hooks and the mail's templates, as in submit.py
        if flow.state == "passed_challenge":
            return await _completed(c, request, flow, kind)
        flow.ui.clear_messages()
        try:
            await c.engine.limit(kind)
            if (step := (steps or {}).get(flow.state)) is not None:
                return await step(c, request, flow, body, succeed)
            if body.get("code"):
                return await redeem(c, request, flow, kind, "code", str(body["code"]), succeed)
            if body.get("method") != strategy.method:  # Kratos: no strategy is responsible for it
                flow.ui.messages.append(NO_STRATEGY[kind]())
                return await c.engine.respond_invalid(request, flow)
            via, address = _texted_again(flow, body) or ("email", string_field(body, "email"))
            if via == "email" and (problem := _address_problem(address)):
                flow.ui.add_node_message("email", problem)
                return await c.engine.respond_invalid(request, flow)
            await c.engine.limit("code_send")
            async with answered_no_sooner_than():  # known or not, the same wait (even_time.py)
                await c.proof.send(flow, kind, strategy, address, via=via)
        except TooManyRequests as refused:
            c.engine.metrics.submission(kind, strategy.method).failed()
            return await c.engine.respond_throttled(request, flow, refused)
        except FlowCompleted:  # by a code sent with this resend: nothing was sent
            return await _completed(c, request, await c.engine.load(flow.id, kind), kind)
        return show(c, request, flow)  # a code sent: a step on the way, neither success nor failure

    return [
        Route("public", "GET", f"/self-service/{kind}/browser", init(BROWSER)),
        Route("public", "GET", f"/self-service/{kind}/api", init(API)),
        Route("public", "GET", f"/self-service/{kind}/flows", get_flow),
        Route("public", "POST", f"/self-service/{kind}", submit),
        Route("public", "GET", f"/self-service/{kind}", submit),
    ]


async def _completed(c: SelfserviceContainer, request: web.Request, flow: Flow, kind: str) -> web.StreamResponse:
    """A submission to a completed flow (or one completed while it was answered), told so on it."""
    flow.ui.clear_messages()
    flow.ui.messages.append(COMPLETED[kind]())
    return await c.engine.respond_invalid(request, flow)


def _texted_again(flow: Flow, body: dict[str, Any]) -> tuple[str, str] | None:
    """("sms", number): the resend button of a flow whose code went by SMS (one a registration, a
    settings change or `require_verified_address` made for a phone number, verifier.py), pressed.
    Only the number the flow's own button names: no form takes a typed phone number (Kratos's asks
    for an email address), so no one can have Warden text a number of their choosing."""
    number, button = string_field(body, "sms"), flow.ui.find("sms")
    if not number or body.get("email") or button is None or button.attributes.get("value") != number:
        return None
    return "sms", number


def _address_problem(address: str) -> text.Message | None:
    """What is wrong with the address a form gave, as Kratos's form schema says it (`format: email`),
    checked as the address is spelled to find its account."""
    if not address:
        return text.property_missing("email")
    if not is_email(fold_address(address)):
        return text.validation_failed(f'"{address}" is not valid "email"')
    return None


class AddressFlowParts(Protocol):
    """What a verification or recovery flow is made with: the service's container, or the verifier's
    share of it (which other flows use before the container exists)."""

    @property
    def config(self) -> SelfserviceConfig: ...
    @property
    def engine(self) -> FlowEngine: ...
    @property
    def address_strategies(self) -> Mapping[str, Any]: ...
    @property
    def proof(self) -> AddressProof: ...


class Origin(NamedTuple):
    """What a verification flow takes from the registration or settings flow that made it (Kratos's
    `NewPostHookFlow`, verifier.py's `came_from`)."""

    request_url: str
    return_to: str | None
    transient_payload: Any  # for its message's template, as Kratos's code sender hands it over


async def new_address_flow(
    c: AddressFlowParts,
    request: web.Request,
    kind: str,
    flow_type: str,
    *,
    flow_id: str | None = None,
    announced_to: Recipient | None = None,
    came_from: Origin | None = None,
) -> Flow:
    """A new flow asking for the address; with `announced_to`, one already showing the message to
    that address as sent, which is sent later (a registration's, verifier.py); with `came_from`,
    what it takes from the flow that made it."""
    flow = await c.engine.create(request, kind, flow_type)
    if came_from is not None:
        flow.request_url, flow.return_to, flow.transient_payload = came_from
    if flow_id is not None:  # a verification flow a registration prepares under a known id
        flow.ui.action = flow.ui.action.replace(flow.id, flow_id)  # the form posts to this flow, not the draft's id
        flow.id = flow_id
    strategy = _strategy(c, kind)
    if kind == "recovery":
        strategy.populate_recovery(flow)
    else:
        strategy.populate_verification(flow)
    if announced_to is not None:
        c.proof.announce(flow, kind, strategy, announced_to.address, via=announced_to.via)
    await c.engine.insert(flow)
    return flow


def _strategy(c: AddressFlowParts, kind: str) -> Any:
    """The method the flow uses; none while the flow is switched off (a flow made before it was)."""
    strategy = c.address_strategies.get(kind)
    if strategy is None:
        raise FlowDisabled(kind)
    return strategy


async def redeem(
    c: SelfserviceContainer, request: web.Request, flow: Flow, kind: str, method: str, secret: str, succeed: Succeed
) -> web.StreamResponse:
    """A code typed or a link's token: `succeed` with what it proved, else `refuse_secret`."""
    submission = c.engine.metrics.submission(kind, method)
    redeemed = await _checked(c, flow, kind, method, secret) if secret else None
    if redeemed is None or redeemed.identity_id is None:  # no code, or the stand-in for an unknown address
        submission.failed()
        return await refuse_secret(c, request, flow, kind, method)
    response = await succeed(c, request, flow, redeemed)
    submission.succeeded()
    return response


async def refuse_secret(
    c: SelfserviceContainer, request: web.Request, flow: Flow, kind: str, method: str
) -> web.StreamResponse:
    """A code or token that does not work. A code is typed into the flow, and Kratos
    (`recoveryUseCode`, `verificationUseCode`) answers a wrong one as a step of the flow: 4060006 /
    4070006 on it, saved, and the flow as a 200 (a browser back to the UI), not a 400. A token comes
    from a link followed in a browser: back to the UI with the message either way."""
    flow.ui.clear_messages()
    flow.ui.messages.append(INVALID[(kind, method)]())
    if method != "code":
        return await c.engine.respond_invalid(request, flow)
    flow.ui.reset_secrets()
    # Only over the flow as this copy loaded it: copies of one code sent at once all load the flow
    # before the one that redeems it completes it, and a refused copy's answer must not put it back.
    await c.engine.save(flow, over_loaded=True)
    return show(c, request, flow)


async def _checked(c: SelfserviceContainer, flow: Flow, kind: str, method: str, secret: str) -> Redeemed | None:
    attempt = functools.partial(c.proof.redeem, flow, kind, method, secret)
    try:
        if method == "link":  # a link's token cannot be guessed: nothing to count
            return await attempt()
        return await code_owner.counted(c.engine.identities, flow, attempt)
    except TriesUsedUp:
        # Kratos starts a new flow here, carrying 4000001 "The request was submitted too often";
        # Warden keeps this one, with the invalid-code answer its tries got (docs/features.md).
        return None


async def _prefill_code(c: SelfserviceContainer, flow: Flow, code: str) -> web.StreamResponse:
    """A verification code link followed from a mail is not a submission (Kratos's `handleLinkClick`):
    the code is filled into the flow and the browser sent to the UI, where the user submits it. Mail
    scanners and link prefetchers that GET every link verify nothing."""
    if code and flow.state != "passed_challenge" and flow.ui.find("code") is not None:
        flow.ui.set_value("code", code[:64])
        await c.engine.save(flow, over_loaded=True)  # never over the flow a submission completed meanwhile
    return c.engine.ui_redirect(flow)  # API flows too: the link opens in a browser


def show(c: SelfserviceContainer, request: web.Request, flow: Flow) -> web.StreamResponse:
    """A flow that moved on (sent, verified): 200 with it, or the browser back to the UI."""
    if flow.type == API or wants_json(request):
        return web.json_response(flow.to_json())
    return c.engine.ui_redirect(flow)
