"""`GET|POST /self-service/methods/oidc/callback/{provider}`, and `…/callback` for the providers with
`pkce: force`: where the provider sends the browser back (Kratos's `strategy.go` `HandleCallback`).

The `state` names the flow; the flow's pending dance must match it (same provider, same secret),
and is spent before anything else happens, so a replayed callback finds nothing. A browser flow is
also bound to the browser that started it by its CSRF cookie, which stops an attacker from handing
a victim a callback that signs the victim in to the attacker's account. Apple posts the callback as
a form from its own site; a cross-site POST carries no SameSite=Lax cookies, so the POST is answered
with a 303 to the same URL as a GET, which does carry them.

Then the flow decides: a login signs the owner of `provider:subject` in (or, for a stranger, turns
into a registration); a registration creates the identity (or, for a known subject, turns into a
login); settings links the provider to the signed-in identity.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from aiohttp import web

from services.selfservice.flows.engine import see_other
from services.selfservice.flows.errors import FlowExpired, FlowInvalid, HookAbortFlow
from services.selfservice.flows.flow import Flow
from services.selfservice.strategies.oidc.config import GENERIC_CALLBACK
from services.selfservice.strategies.oidc.errors import OidcError, StateInvalid
from services.selfservice.strategies.oidc.flows import finish
from services.selfservice.strategies.oidc.strategy import METHOD, PENDING_KEY, OidcStrategy, parse_state
from shared import errors, text

if TYPE_CHECKING:
    from services.selfservice.service import SelfserviceContainer

log = logging.getLogger(__name__)
PATH = GENERIC_CALLBACK + "/{provider}"


class CallbackRefused(errors.BadRequest):
    def __init__(self, reason: str) -> None:
        super().__init__(reason, message="The social sign-in could not be completed.")


async def callback(c: SelfserviceContainer, request: web.Request) -> web.StreamResponse:
    strategy = c.methods.get(METHOD)
    if not isinstance(strategy, OidcStrategy):
        raise errors.NotFound()
    provider_id = request.match_info.get("provider")  # None on the generic callback
    here = strategy.config.generic_callback + (f"/{provider_id}" if provider_id else "")
    if request.method == "POST":
        form = await request.post()
        return see_other(f"{here}?{urlencode({k: str(v) for k, v in form.items()})}")
    query = {k: v for k, v in request.query.items()}
    try:
        kind, flow_id = parse_state(query.get("state", ""))
    except StateInvalid as exc:
        raise CallbackRefused(str(exc)) from None
    flow = await c.engine.load(flow_id, kind)
    if flow.is_browser:
        c.engine.csrf.check_cookie(request, flow.csrf_token)
    dance = flow.internal.get(PENDING_KEY)
    try:
        pending = strategy.take_pending(flow, query["state"], here)
    except StateInvalid as exc:
        raise CallbackRefused(str(exc)) from None
    # The state is spent where the flow is stored: of callbacks that loaded the flow at once (a
    # double click, a prefetch), one sends the code to the provider, which may revoke what it issued
    # for a code used twice; a replay of it finds nothing pending.
    if not await c.engine.spend(flow, PENDING_KEY, dance):
        raise CallbackRefused("the sign-in pending on the flow was completed already")
    provider_id = pending.provider
    flow.transient_payload = pending.transient_payload  # the redirect's submission, for the hooks
    if flow.expired():
        raise FlowExpired(flow.expires_at, "")
    flow.ui.clear_messages()
    submission = c.engine.metrics.submission(kind, METHOD)
    try:
        if query.get("error"):
            description = query.get("error_description") or ""
            raise OidcError(f"the provider answered {query['error']!r} {description}".strip())
        claims, tokens = await strategy.claims_from_callback(pending, query)
        response = await finish(c, request, strategy, flow, pending, claims, tokens)
        submission.succeeded()
        return response
    except OidcError as exc:
        submission.failed()
        log.warning("social sign-in with %s failed: %s", provider_id, exc)
        return await _failed(c, request, flow, exc)
    except FlowInvalid:
        submission.failed()
        return await c.engine.respond_invalid(request, flow)
    except HookAbortFlow as aborted:  # a hook wrote the answer (require_verified_address's)
        submission.failed()
        return aborted.response


async def _failed(c: SelfserviceContainer, request: web.Request, flow: Flow, exc: Exception) -> web.StreamResponse:
    flow.ui.messages.append(text.validation_failed(f"Unable to complete the social sign-in: {exc}"))
    return await c.engine.respond_invalid(request, flow)
