"""What happens when a login succeeds (Kratos's `login/hook.go`): `pre` hooks may still refuse, the
session is issued (or the existing one refreshed), `post` hooks run, the flow is closed with its
event, and the client gets the answer its flow type calls for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

from services.selfservice.flows.engine import NEXT_CSRF_TOKEN, see_other
from services.selfservice.flows.errors import BrowserLocationChangeRequired, FlowInvalid, HookAbortFlow
from services.selfservice.flows.flow import API, Flow
from services.selfservice.flows.identity_schema import schema_fields, schema_of
from services.selfservice.flows.login.errors import VerifiedAddressRequired
from services.selfservice.flows.login.strategy import LINK_AFTER_LOGIN, LINK_OWNER, LinksAfterLogin, LoginOutcome
from services.selfservice.flows.login.verified_address import verification_required
from services.selfservice.flows.request import device, wants_json
from services.selfservice.hooks.registry import HookContext
from shared import aal, text
from shared.cookies import request_cookie, session_token
from shared.json_codec import json_response

if TYPE_CHECKING:
    from services.selfservice.service import SelfserviceContainer


async def complete_login(
    c: SelfserviceContainer, request: web.Request, flow: Flow, outcome: LoginOutcome
) -> web.StreamResponse:
    return _answer(c, request, flow, await finish_login(c, request, flow, outcome))


async def finish_login(
    c: SelfserviceContainer, request: web.Request, flow: Flow, outcome: LoginOutcome, *, for_app: bool = False
) -> HookContext:
    """Everything but the answer: a flow finished in a browser for a native app answers differently
    (`for_app`: the token exchange hands the app the session's token)."""
    _refuse_another_account(flow, outcome.identity)
    ctx = HookContext(request, flow, outcome.identity, outcome.method["method"])
    try:
        await c.hooks.run("login", "after", "pre", ctx)
    except VerifiedAddressRequired:
        raise HookAbortFlow(await verification_required(c, request, flow, outcome.identity)) from None
    pending = flow.internal.pop(LINK_AFTER_LOGIN, None)
    existing = flow.internal.get("session_id")
    if existing and (for_app or (flow.type != API and _cookie_borne(c, request))):
        # A browser's refresh or second factor: the session's cookie gets a new token (the old one
        # ends), so a copy of the cookie taken before (stolen, or left on a shared computer) does not
        # become privileged or aal2 with it. Stricter than Kratos, which keeps the token; an app's
        # token is kept, as Kratos answers with it again and apps may not look for a new one. But an
        # app's refresh finished in the system browser (a social sign-in) gets the new token by the
        # token exchange (Kratos gives it a new session's there): that request carries the browser's
        # cookie, another session's token, maybe another person's, never the app's.
        rotated = await c.engine.sessions.reauthenticate(existing, outcome.method)
        ctx.session = rotated["session"]
        ctx.session_token = rotated["session_token"] or (
            None if for_app else session_token(request, c.engine.cookie, c.engine.signer)
        )
    elif existing:
        ctx.session = await c.engine.sessions.add_authentication_method(existing, outcome.method)
        ctx.session_token = session_token(request, c.engine.cookie, c.engine.signer)  # Kratos answers with it again
    else:
        issued = await c.engine.sessions.issue_session(
            outcome.identity["id"], [outcome.method], device(request), outcome.identity
        )
        ctx.session, ctx.session_token = issued["session"], issued["session_token"]
    if pending is not None:
        ctx.identity = await _link_or_carry(c, request, flow, ctx, pending)
    await c.hooks.run("login", "after", "post", ctx)
    flow.state = "passed_challenge"
    await c.events.login_succeeded(flow, ctx)
    return ctx


def _cookie_borne(c: SelfserviceContainer, request: web.Request) -> bool:
    """Whether the request's session came in the session cookie (not a header an app sets)."""
    headers = request.headers
    return not headers.get("X-Session-Token") and bool(request_cookie(request, c.engine.cookie.name))


def _answer(c: SelfserviceContainer, request: web.Request, flow: Flow, ctx: HookContext) -> web.StreamResponse:
    if flow.type == API:
        body: dict[str, Any] = {"session": ctx.session}
        if ctx.session_token:
            body["session_token"] = ctx.session_token
        if ctx.continue_with:
            body["continue_with"] = ctx.continue_with
        return json_response(body)
    return_to = flow.return_to or c.config.after_return_url("login", ctx.method)
    if ctx.session and not whoami_accepts(c, ctx.session, ctx.identity):
        # The session whoami would refuse: the browser goes on to the second factor (Kratos's hook),
        # in the step made already when it carries a link (`_link_or_carry`).
        carried = request.get(STEP_UP_FLOW)
        query = urlencode({"aal": aal.AAL2, "return_to": return_to})
        step = (
            f"{c.config.flows['login'].ui_url}?{urlencode({'flow': carried})}"
            if carried
            else f"{c.config.public_base_url.rstrip('/')}/self-service/login/browser?{query}"
        )
        if wants_json(request):
            response: web.StreamResponse = web.json_response(BrowserLocationChangeRequired(step).to_json(), status=422)
        else:
            response = see_other(step)
    elif wants_json(request):
        response = web.json_response(
            {
                "session": ctx.session,
                "continue_with": [  # Kratos adds the redirect before the hooks run, so first
                    {"action": "redirect_browser_to", "redirect_browser_to": return_to},
                    *ctx.continue_with,
                ],
            }
        )
    else:
        response = see_other(return_to)
    if ctx.session_token:
        c.engine.with_session_cookie(
            response, ctx.session_token, ctx.session or {}, csrf_token=request.get(NEXT_CSRF_TOKEN)
        )
    return response


async def _link_or_carry(
    c: SelfserviceContainer, request: web.Request, flow: Flow, ctx: HookContext, pending: dict[str, Any]
) -> dict[str, Any]:
    """Links the sign-in that waited for this login ("sign in to link your account") once the
    session is what whoami asks for, as Kratos does. Before the second factor it would let someone
    with the password alone attach a social account of theirs, one that outlives a password reset:
    so a browser's link waits in the second-factor step, made here for the new session; an app's
    is dropped (its client makes that step itself), and can be made again in the settings."""
    if whoami_accepts(c, ctx.session or {}, ctx.identity):
        return await _link(c, ctx.identity, pending)
    if flow.type != API and ctx.session:
        from services.selfservice.flows.login.handler import new_login_flow  # the handler imports this module

        request[NEXT_CSRF_TOKEN] = c.engine.csrf.new_token()  # the step's, and the new cookie's
        fields = {
            "refresh": False,
            "requested_aal": aal.AAL2,
            "organization_id": None,
            **schema_fields(schema_of(flow)),
        }
        session = {**ctx.session, "identity": ctx.session.get("identity") or ctx.identity}
        carried = {LINK_AFTER_LOGIN: pending}
        step = await new_login_flow(c, request, flow.type, fields, session, carried, return_to=flow.return_to)
        request[STEP_UP_FLOW] = step.id
    return ctx.identity


def _refuse_another_account(flow: Flow, identity: dict[str, Any]) -> None:
    """A flow that waits for the owner of an address to sign in and link a credential ("sign in to
    link your account") may be left open on a shared browser: anyone else signing in there would get
    a stranger's (an attacker's) social account linked to theirs. As Kratos's
    `checkDuplicateCredentialsIdentifierMatch`, before any session: 4010009 on the flow, which the
    owner can still sign in on."""
    pending = flow.internal.get(LINK_AFTER_LOGIN)
    if pending is not None and pending.get(LINK_OWNER) != identity["id"]:
        flow.ui.messages.append(text.linked_credentials_mismatch())
        raise FlowInvalid()


def whoami_accepts(c: SelfserviceContainer, session: dict[str, Any], identity: dict[str, Any]) -> bool:
    """Whether the session is what `session.whoami.required_aal` asks of this identity (its admin
    view: the credentials say whether it has a second factor)."""
    required = c.settings.get("session.whoami.required_aal") or aal.AAL1
    session_aal = session.get("authenticator_assurance_level") or aal.AAL1
    return c.config.assurance.satisfies(session_aal, identity, required)


async def _link(c: SelfserviceContainer, identity: dict[str, Any], pending: dict[str, Any]) -> dict[str, Any]:
    method = c.methods.get(pending.get("method", ""))
    if not isinstance(method, LinksAfterLogin):  # the method was switched off since: nothing to link
        return identity
    return await method.link_after_login(identity, pending)


STEP_UP_FLOW = web.RequestKey("step_up_flow", str)
