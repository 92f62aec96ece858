"""The recovery flow (Kratos's `selfservice/flow/recovery`): a code or link proves the recovery
address, the user is signed in with a fresh (privileged) session and sent to a settings flow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

from services.selfservice.codes import Redeemed
from services.selfservice.flows.address_flow import address_flow_routes, refuse_secret
from services.selfservice.flows.engine import NEXT_CSRF_TOKEN, see_other
from services.selfservice.flows.errors import BrowserLocationChangeRequired, FlowInvalid
from services.selfservice.flows.flow import API, Flow
from services.selfservice.flows.recovery import choose_address
from services.selfservice.flows.request import device, wants_json
from services.selfservice.flows.settings.handler import new_settings_flow, privileged_session_max_age
from services.selfservice.hooks.registry import HookContext
from services.selfservice.proven_address import holds, mark_proven
from shared import text
from shared.bus import events

if TYPE_CHECKING:
    from services.selfservice.service import SelfserviceContainer

KIND = "recovery"


async def recovered(
    c: SelfserviceContainer, request: web.Request, flow: Flow, redeemed: Redeemed
) -> web.StreamResponse:
    identity = await c.engine.identities.get_identity(redeemed.identity_id or "")
    admin = bool(flow.internal.get("admin"))  # an operator's code recovers the identity, whatever its addresses
    if identity is None or identity.get("state") != "active" or not (admin or _still_recovers(identity, redeemed)):
        return await refuse_secret(c, request, flow, KIND, redeemed.method)
    method = f"{redeemed.method}_recovery"
    if not admin:
        # The mail reached its owner: the address is proven too (Kratos's markRecoveryAddressVerified).
        identity = await mark_proven(c.engine.identities, identity, redeemed.via, redeemed.address)
    issued = await c.engine.sessions.issue_session(
        identity["id"], [{"method": method, "aal": "aal1"}], device(request), identity
    )
    settings = await _settings_flow(c, request, flow.type, identity, issued["session"])
    # Kratos's TakeOverReturnToParameter: the settings flow goes on to where recovery was to end,
    # the recovery flow's return_to, else `recovery.after.default_browser_return_url`.
    settings.return_to = settings.return_to or flow.return_to or c.config.flows[KIND].after_return_url
    # Kratos counts the minutes left in the privileged session, not the settings flow's lifespan.
    settings.ui.messages.append(
        text.recovery_successful(settings.issued_at + privileged_session_max_age(c), settings.issued_at)
    )
    await _save(c, settings)
    settings_url = f"{c.config.flows['settings'].ui_url}?{urlencode({'flow': settings.id})}"
    hooked = HookContext(request, flow, identity, method, session=issued["session"])
    try:  # after the effect, as in Kratos: a refusing hook fails the answer, not the recovery
        await c.hooks.run_all(KIND, "after", hooked)
    except FlowInvalid:
        return await c.engine.respond_invalid(request, flow)
    flow.state = "passed_challenge"
    await c.events.closed(flow, events.RECOVERY_SUCCEEDED, hooked.deliveries, identity_id=identity["id"], method=method)
    show_settings = {"action": "show_settings_ui", "flow": {"id": settings.id, "url": settings_url}}
    if flow.type == API:
        # The token is in this answer only, never stored with the flow (anyone may fetch a flow by id).
        continue_with = [
            {"action": "set_ory_session_token", "ory_session_token": issued["session_token"]},
            show_settings,
        ]
        return web.json_response({**flow.to_json(), "continue_with": continue_with})
    response: web.StreamResponse
    if wants_json(request) and c.config.continue_with_transitions:  # Kratos's continue_with transitions
        response = web.json_response({**flow.to_json(), "continue_with": [show_settings]})
    elif wants_json(request):
        response = web.json_response(BrowserLocationChangeRequired(settings_url).to_json(), status=422)
    else:
        response = see_other(settings_url)
    # The settings flow is bound to this browser by the CSRF cookie the new session comes with.
    return c.engine.with_session_cookie(
        response, issued["session_token"], issued["session"], csrf_token=settings.csrf_token
    )


def _still_recovers(identity: dict[str, Any], redeemed: Redeemed) -> bool:
    """The code went to one of the identity's recovery addresses; the identity may have given that
    address up since (the mailbox lost or taken over). In Kratos the code dies with the address's
    row; here it is refused when the address is no longer the identity's."""
    return holds(identity, "recovery_addresses", redeemed.via, redeemed.address)


async def _settings_flow(
    c: SelfserviceContainer, request: web.Request, flow_type: str, identity: dict[str, Any], session: dict[str, Any]
) -> Flow:
    """The settings flow the recovered user is sent to. A browser's is bound to a new CSRF token, the
    one set beside the new session cookie, as at login: a token planted in or read from the browser
    before recovery is worth nothing after it."""
    if flow_type == API:
        return await new_settings_flow(c, request, flow_type, identity, session)
    request[NEXT_CSRF_TOKEN] = c.engine.csrf.new_token()
    try:
        return await new_settings_flow(c, request, flow_type, identity, session)
    finally:
        request.pop(NEXT_CSRF_TOKEN, None)  # the only flow this request makes for the new token


async def _save(c: SelfserviceContainer, flow: Flow) -> None:
    async with c.uow() as uow:
        await c.flows.save(uow.connection, flow)
        await uow.commit()


# Flows made with `feature_flags.choose_recovery_address` (their state says so) take their own steps.
ROUTES = address_flow_routes(KIND, recovered, refuse_sessions=True, steps=choose_address.STEPS)
