"""The verification flow (Kratos's `selfservice/flow/verification`): a code or link proves the address."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from services.selfservice.codes import Redeemed
from services.selfservice.flows.address_flow import address_flow_routes, refuse_secret, show
from services.selfservice.flows.engine import see_other
from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import API, Flow
from services.selfservice.flows.request import wants_json
from services.selfservice.flows.ui import Node
from services.selfservice.hooks.registry import HookContext
from services.selfservice.proven_address import holds, mark_proven
from shared import text
from shared.bus import events

if TYPE_CHECKING:
    from services.selfservice.service import SelfserviceContainer

KIND = "verification"


async def verified(c: SelfserviceContainer, request: web.Request, flow: Flow, redeemed: Redeemed) -> web.StreamResponse:
    identity = await c.engine.identities.get_identity(redeemed.identity_id or "")
    if identity is None or not holds(identity, "verifiable_addresses", redeemed.via, redeemed.address):
        # The address moved to another identity (or went) since the code was sent: in Kratos the code
        # dies with the address's row. Marking it now would verify an account that proved nothing.
        return await refuse_secret(c, request, flow, KIND, redeemed.method)
    identity = await mark_proven(c.engine.identities, identity, redeemed.via, redeemed.address)
    flow.state = "passed_challenge"
    flow.ui.clear_messages()
    flow.ui.nodes = [n for n in flow.ui.nodes if n.name == "csrf_token"]
    flow.ui.messages.append(text.phone_verified() if redeemed.via == "sms" else text.email_verified())
    # Kratos's way forward from a finished verification: a link to return_to or the default return URL.
    continue_to = flow.return_to or c.config.after_return_url(KIND)
    flow.ui.add(
        Node(
            redeemed.method,
            {"id": "continue", "href": continue_to, "title": text.label_continue().to_json()},
            "a",
            meta={"label": text.label_continue()},
        )
    )
    hooked = HookContext(request, flow, identity or {}, redeemed.method)
    try:  # after the effect, as in Kratos: a refusing hook fails the answer, not the verification
        await c.hooks.run_all(KIND, "after", hooked)
    except FlowInvalid:
        return await c.engine.respond_invalid(request, flow)
    await c.events.closed(
        flow, events.VERIFICATION_SUCCEEDED, hooked.deliveries, identity_id=(identity or {}).get("id")
    )
    if request.method == "GET" and not wants_json(request):  # a link followed from a mail, in a browser
        if flow.type == API:  # signed up in an app, opened the mail on the phone: show the result page
            return c.engine.ui_redirect(flow)
        # Kratos's `redirectVerificationSuccess`: return_to, else `verification.after`'s URL, else the
        # verification UI showing this flow's success (not the global default return URL).
        target = flow.return_to or c.config.configured_after_url(KIND)
        return see_other(target) if target else c.engine.ui_redirect(flow)
    return show(c, request, flow)


ROUTES = address_flow_routes(KIND, verified, refuse_sessions=False)
