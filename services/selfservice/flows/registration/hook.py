"""What happens when a registration succeeds (Kratos's `registration/hook.go`): `pre` hooks (the
interrupting web hooks) see the identity before it is saved and may refuse or change it; the
identity is created; `post` hooks run (the `session` hook signs the user in); the flow closes with
its event; the client gets the answer its flow type calls for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from services.selfservice.flows.engine import NEXT_CSRF_TOKEN, see_other
from services.selfservice.flows.errors import IdentityExists, TraitsRefused
from services.selfservice.flows.flow import API, Flow
from services.selfservice.flows.registration.login_hints import collision
from services.selfservice.flows.registration.strategy import RegistrationOutcome
from services.selfservice.flows.request import wants_json
from services.selfservice.hooks.registry import HookContext
from services.selfservice.proven_address import mark_proven
from services.selfservice.traits import trait_errors
from services.selfservice.views import public_identity
from shared import errors, text

if TYPE_CHECKING:
    from services.selfservice.service import SelfserviceContainer


async def complete_registration(
    c: SelfserviceContainer, request: web.Request, flow: Flow, outcome: RegistrationOutcome
) -> web.StreamResponse:
    csrf_token = None
    if flow.type != API:
        # The browser's new session comes with a new CSRF cookie; the verification flows made in this
        # request (shown by show_verification_ui) are made for that new token, so the page the
        # browser lands on accepts the code.
        csrf_token = request[NEXT_CSRF_TOKEN] = c.engine.csrf.new_token()
    try:
        ctx = await finish_registration(c, request, flow, outcome)
    except BaseException:
        request.pop(NEXT_CSRF_TOKEN, None)  # no session was issued: nothing rotates, later flows keep the cookie
        raise
    return _answer(c, request, flow, ctx, csrf_token)


async def finish_registration(
    c: SelfserviceContainer, request: web.Request, flow: Flow, outcome: RegistrationOutcome
) -> HookContext:
    """Everything but the answer: a flow finished in a browser for a native app answers differently.
    Held to an even time where the method hides existing accounts (registration/enumeration.py)."""
    async with c.enumeration.held(outcome.method["method"]):
        return await _finish(c, request, flow, outcome)


async def _finish(
    c: SelfserviceContainer, request: web.Request, flow: Flow, outcome: RegistrationOutcome
) -> HookContext:
    ctx = HookContext(request, flow, outcome.identity, outcome.method["method"], authentication_method=outcome.method)
    proven, stand_in = outcome.proven, False
    if outcome.persisted:  # a method that created the identity itself (a passkey's)
        ctx.verification_flows = await c.verifier.send(
            request, flow.type, ctx.identity.get("verifiable_addresses") or [], origin=flow
        )
    else:
        # The verification mails follow from the committed identity.created event (verifier.py).
        created = await _create(c, ctx, outcome.identity, skip=proven["value"] if proven else None)
        ctx.identity, ctx.verification_flows, stand_in = created.identity, created.prepared, created.stand_in
    if proven:
        ctx.identity = await mark_proven(c.engine.identities, ctx.identity, proven["via"], proven["value"])
    if c.config.legacy_continue_with_verification_ui:
        # Kratos's verification hook, which runs before the configured ones, used to list every flow
        # it made; `feature_flags.legacy_continue_with_verification_ui` keeps that (no redirect: only
        # the show_verification_ui hook sends a browser to the verification UI).
        ctx.continue_with.extend(ctx.verification_flows)
    await c.hooks.run("registration", "after", "post", ctx)
    flow.state = "passed_challenge"
    if stand_in:  # nothing was registered: no event says otherwise (existing_account.py)
        await c.events.saved(flow)
    else:
        await c.events.registration_succeeded(flow, ctx)
    return ctx


def _answer(
    c: SelfserviceContainer, request: web.Request, flow: Flow, ctx: HookContext, csrf_token: str | None = None
) -> web.StreamResponse:
    identity = public_identity(ctx.identity)
    if flow.type == API or wants_json(request):
        body: dict[str, Any] = {"identity": identity}
        if ctx.session:
            body["session"] = ctx.session
        if ctx.session_token and flow.type == API:
            body["session_token"] = ctx.session_token
        continue_with = list(ctx.continue_with)
        if flow.type != API:  # Kratos adds it before the hooks run: first, before what they add
            return_to = flow.return_to or c.config.after_return_url("registration", ctx.method)
            continue_with.insert(0, {"action": "redirect_browser_to", "redirect_browser_to": return_to})
        if continue_with:
            body["continue_with"] = continue_with
        response: web.StreamResponse = web.json_response(body)
    else:
        response = see_other(
            ctx.verification_ui or flow.return_to or c.config.after_return_url("registration", ctx.method)
        )
    if ctx.session_token and flow.type != API:
        c.engine.with_session_cookie(response, ctx.session_token, ctx.session or {}, csrf_token=csrf_token)
    elif csrf_token:
        c.engine.csrf.set_cookie(response, csrf_token)
    return response


@dataclass(frozen=True)
class _Created:
    identity: dict[str, Any]
    prepared: list[dict[str, Any]]  # show_verification_ui items
    stand_in: bool = False  # an existing account's identifiers, answered as a new account (EN-4)


async def _create(c: SelfserviceContainer, ctx: HookContext, body: dict[str, Any], *, skip: str | None) -> _Created:
    """The identity, created, and the show_verification_ui items of the verification flows prepared
    for its addresses (all but `skip`, the one the registration already proved). A method that hides
    existing accounts (enumeration.py) gets a stand-in for one instead of 4000007; its verification
    flows are as real as a new account's, but no code is ever sent for them, so any code fails."""
    # The hooks see the identity-to-be without its credentials; what they change lands in `draft`.
    draft = {k: v for k, v in body.items() if k != "credentials"}
    draft.setdefault("state", "active")
    ctx.identity = draft
    await c.hooks.run("registration", "after", "pre", ctx)
    try:
        prepared: list[dict[str, Any]] = []
        if c.config.flows["verification"].enabled:
            would_be = await c.engine.identities.validate_identity(draft)  # traits only: no password hashed
            addresses = [a for a in would_be.get("verifiable_addresses") or [] if a.get("value") != skip]
            prepared = await c.verifier.prepare(ctx.request, ctx.flow, addresses)
        if c.enumeration.hides(ctx.method):
            registered = await c.enumeration.accounts.register({**body, **draft}, ctx.flow.id)
            return _Created(registered.identity, prepared, registered.stand_in)
        created = await c.engine.identities.create_identity({**body, **draft, "registration_flow_id": ctx.flow.id})
        return _Created(created, prepared)
    except errors.Conflict:
        found = await collision(c.engine.identities, {**body, **draft})
        hints = c.enumeration.hints.for_collision(found) if c.enumeration.hints else None
        ctx.flow.ui.messages.append(hints.message() if hints else text.identifier_exists())
        raise IdentityExists(hints, found.holder["id"] if found else None) from None
    except errors.BadRequest as exc:
        trait_errors(ctx.flow, exc)
        raise TraitsRefused(exc) from None
