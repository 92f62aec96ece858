"""Submitting to a flow, the steps every flow takes in the same order (Kratos's handler `updateX`):
load, let the flow's guard look at the caller's session, replace if expired, read the body, check
CSRF, refuse a completed flow, pick the method by the body's `method`, let it act, and render
fixable failures back into the flow."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from services.selfservice.flows.errors import FlowCompleted, FlowInvalid, HookAbortFlow, RedirectBrowser, StepCompleted
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.request import read_body
from services.selfservice.flows.settings.strategy import ClaimsSubmission
from shared.errors import TooManyRequests
from shared.metrics.flows import Submission
from shared.text import Message
from shared.tracing.attributes import annotate

if TYPE_CHECKING:
    from services.selfservice.service import SelfserviceContainer


@dataclass(frozen=True)
class FlowSteps:
    kind: str
    renew: Callable[[Any, web.Request, Flow], Awaitable[Flow]]  # a new, stored flow replacing an expired one
    completed: Callable[[], Message]
    no_strategy: Callable[[], Message]
    act: Callable[[Any, Flow, dict[str, Any]], Awaitable[Any]]  # (strategy, flow, body) -> outcome
    complete: Callable[[Any, web.Request, Flow, Any], Awaitable[web.StreamResponse]]
    failed: Callable[[Any, Flow, dict[str, Any]], Awaitable[None]] | None = None
    # Runs first (before expiry and CSRF, as Kratos looks for the session first): may refuse, or answer.
    guard: Callable[[Any, web.Request, Flow], Awaitable[web.StreamResponse | None]] | None = None
    method_of: Callable[[dict[str, Any]], Any] = lambda body: body.get("method")  # which method a body is for


async def submit(
    c: SelfserviceContainer, request: web.Request, steps: FlowSteps, strategies: Sequence[Any]
) -> web.StreamResponse:
    flow = await c.engine.load_submitted(request, steps.kind)
    if steps.guard is not None and (answer := await steps.guard(c, request, flow)) is not None:
        return answer
    if flow.expired():
        return await c.engine.replace_expired(request, flow, replacement=await steps.renew(c, request, flow))
    body = await read_body(request)
    c.engine.check_submission(request, flow, body)
    flow.transient_payload = body.get("transient_payload")
    flow.ui.clear_messages()
    submission = c.engine.metrics.submission(steps.kind)
    try:
        if flow.state == "passed_challenge":
            flow.ui.messages.append(steps.completed())
            raise FlowInvalid()
        strategy = _pick(strategies, flow, body, steps.method_of(body), steps.no_strategy)
        submission.method = strategy.method
        annotate({"FlowType": flow.type, "SelfServiceFlowType": flow.kind, "SelfServiceMethodUsed": strategy.method})
        await c.engine.limit(steps.kind)
        outcome = await steps.act(strategy, flow, body)
        response = await steps.complete(c, request, flow, outcome)
        submission.succeeded()
        return response
    except TooManyRequests as refused:  # this client's window, or the password throttle
        submission.failed()
        return await c.engine.respond_throttled(request, flow, refused)
    except StepCompleted as step:  # a step on the way (a code sent): neither success nor failure
        # Kratos answers the next screen with 400 too
        return await c.engine.respond_invalid(request, flow, with_payload=step.shows_payload)
    except RedirectBrowser as redirect:
        return await c.engine.redirect_browser(flow, redirect.url)
    except HookAbortFlow as aborted:  # a hook wrote the answer (require_verified_address's)
        submission.failed()
        return aborted.response
    except FlowCompleted:
        # A code resent while another submission completed the flow (nothing was sent): the answer
        # a submission after it gets, on the flow as that one stored it.
        flow = await c.engine.load(flow.id, steps.kind)
        flow.ui.clear_messages()
        flow.ui.messages.append(steps.completed())
        return await _refused(c, request, steps, flow, body, submission)
    except FlowInvalid:
        return await _refused(c, request, steps, flow, body, submission)


async def _refused(
    c: SelfserviceContainer,
    request: web.Request,
    steps: FlowSteps,
    flow: Flow,
    body: dict[str, Any],
    submission: Submission,
) -> web.StreamResponse:
    """A fixable failure: the flow carries its messages and goes back to the client."""
    submission.failed()
    if steps.failed is not None:
        await steps.failed(c, flow, body)
    return await c.engine.respond_invalid(request, flow)


def _pick(
    strategies: Sequence[Any], flow: Flow, body: dict[str, Any], method: Any, no_strategy: Callable[[], Message]
) -> Any:
    for strategy in strategies:
        # Some buttons carry no `method` (a social sign-in provider's): their method claims the body.
        if strategy.method == method or (
            not method and isinstance(strategy, ClaimsSubmission) and strategy.claims(body)
        ):
            flow.active = strategy.method
            return strategy
    flow.ui.messages.append(no_strategy())
    raise FlowInvalid()
