"""The settings flow (Kratos's `selfservice/flow/settings`): a signed-in identity changes its profile
or password; changes that matter need a recent sign-in (a privileged session)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

from services.selfservice.flows.engine import see_other
from services.selfservice.flows.errors import (
    FlowInvalid,
    IdentityMismatch,
    NoActiveSession,
    RedirectBrowser,
    RefreshRequired,
)
from services.selfservice.flows.flow import API, BROWSER, Flow
from services.selfservice.flows.request import read_body, request_url, wants_json
from services.selfservice.flows.settings import continuity
from services.selfservice.flows.settings.privilege import stale_factor
from services.selfservice.flows.settings.strategy import (
    ClaimsSubmission,
    CompletesElsewhere,
    SettingsContext,
    ShowForm,
)
from services.selfservice.hooks.registry import HookContext
from services.selfservice.hooks.web_hook_answer import METADATA
from services.selfservice.views import public_identity
from shared import aal, json_codec, text
from shared.bus import events
from shared.bus.events import WebhookRequested
from shared.cookies import CookieConfig
from shared.http.middleware import error_response
from shared.service import Handler, Route
from shared.units import parse_duration

if TYPE_CHECKING:
    from services.selfservice.service import SelfserviceContainer

KIND = "settings"
PENDING = "pending_change"  # flow.internal key: the change waiting for a re-authentication


async def new_settings_flow(
    c: SelfserviceContainer, request: web.Request, flow_type: str, identity: dict[str, Any], session: dict[str, Any]
) -> Flow:
    flow = await c.engine.create(request, KIND, flow_type, identity=public_identity(identity))
    flow.state = "show_form"
    flow.internal.update(identity_id=identity["id"], session_id=session["id"])
    for strategy in c.methods.settings:
        strategy.populate_settings(flow, identity)
    await c.engine.insert(flow)
    return flow


async def _session(c: SelfserviceContainer, request: web.Request) -> dict[str, Any]:
    """The request's session, asked for before anything else (Kratos's `IsAuthenticated` guards
    these routes): without one, JSON gets 401 and a browser page goes to the login UI with a 302
    (Kratos's `OnUnauthenticated`), not to the error page."""
    session = await c.engine.current_session(request)
    if session is None:
        if not wants_json(request):
            raise web.HTTPFound(c.config.flows["login"].ui_url)
        raise NoActiveSession()
    return session


async def _identity_of(c: SelfserviceContainer, session: dict[str, Any]) -> dict[str, Any]:
    identity = await c.engine.identities.get_identity(session["identity"]["id"])
    if identity is None:  # deleted since the session was read: the session goes with it
        raise NoActiveSession()
    return identity


def _init(flow_type: str) -> Handler[SelfserviceContainer]:
    async def handler(c: SelfserviceContainer, request: web.Request) -> web.StreamResponse:
        session = await c.engine.current_session(request)
        if session is None:
            if flow_type == BROWSER and not wants_json(request):
                login = f"{c.config.public_base_url.rstrip('/')}/self-service/login/browser"
                return see_other(f"{login}?{urlencode({'return_to': request_url(request, c.config.public_base_url)})}")
            raise NoActiveSession()
        identity = await _identity_of(c, session)
        # Kratos names the init URL as the aal2 login's return_to only when it carries a return_to
        # of its own (a native app's browser has nothing to come back to).
        comes_back = flow_type == BROWSER and bool(request.query.get("return_to"))
        _require_aal(c, session, identity, request_url(request, c.config.public_base_url) if comes_back else None)
        flow = await new_settings_flow(c, request, flow_type, identity, session)
        return c.engine.respond_new(request, flow)

    return handler


async def get_flow(c: SelfserviceContainer, request: web.Request) -> web.Response:
    """Kratos's `getSettingsFlow` order: the session, the flow (404), its identity, the session's
    AAL, the flow's expiry (410). Kratos reads no CSRF cookie here (the flow is the session's);
    Warden still binds a browser flow to its browser, and checks that last, so that it refuses
    only what Kratos would have answered with the flow, and every other answer is Kratos's."""
    session = await _session(c, request)
    flow = await c.engine.load(request.query.get("id"), KIND)
    if session["identity"]["id"] != flow.internal.get("identity_id"):
        raise IdentityMismatch()
    identity = await _identity_of(c, session)
    _require_aal(c, session, identity, _settings_ui_url(c, flow))
    c.engine.check_unexpired(flow)
    c.engine.check_reader(request, flow)
    return web.json_response(flow.to_json())


async def submit(c: SelfserviceContainer, request: web.Request) -> web.StreamResponse:
    """Kratos's `updateSettingsFlow` order: the session, the flow id (400) and the flow (404), the
    session's AAL, the flow's expiry (a new flow, of the submitter's own identity), its identity
    (`Flow.Valid`), then the form's CSRF token and the method. Kratos's method checks the token
    only once it claims the form; Warden checks it for every form, first."""
    session = await _session(c, request)
    flow = await c.engine.load_submitted(request, KIND)
    identity = await _identity_of(c, session)
    _require_aal(c, session, identity, request_url(request, c.config.public_base_url))
    if flow.expired():
        fresh = await new_settings_flow(c, request, flow.type, identity, session)
        return await c.engine.replace_expired(request, flow, replacement=fresh)
    if session["identity"]["id"] != flow.internal.get("identity_id"):
        raise IdentityMismatch()
    body = await read_body(request)
    c.engine.check_submission(request, flow, body)
    return await _apply(c, request, flow, session, identity, body)


async def resume(c: SelfserviceContainer, request: web.Request) -> web.StreamResponse:
    """`GET /self-service/settings?flow=`, where a re-authentication returns: the change that needed
    it, kept with the flow (Kratos's continuity container), is applied now, so the user does not type
    it again. Only the session that asked for it, now privileged, resumes it; anything else lands on
    the settings UI. A change that cannot be applied is never dropped without a word, as Kratos
    handles its continuity container: on an expired flow the browser gets a new one that says the old
    one expired, and a session no longer privileged (the window ran out between the sign-in and this
    request) is sent to sign in again with the change still kept."""
    session = await _session(c, request)
    flow = await c.engine.load_submitted(request, KIND)
    if session["identity"]["id"] != flow.internal.get("identity_id"):
        raise IdentityMismatch()
    pending = flow.internal.pop(PENDING, None) or {}
    # Bound to the session that asked (a refresh login keeps the session's id) and, since a copied
    # session cookie is the same session in two browsers, to the browser that paused the change by
    # its continuity cookie (signing in again rotated the CSRF cookie, so that cannot be the binding).
    paused_here = pending.get("session_id") == session["id"] and continuity.belongs_to(request, pending.get("browser"))
    if not paused_here or not flow.is_browser:
        return c.engine.ui_redirect(flow)
    identity = await _identity_of(c, session)
    if flow.expired():
        fresh = await new_settings_flow(c, request, flow.type, identity, session)
        return await c.engine.replace_expired(request, flow, replacement=fresh)
    # Signing in again rotated the CSRF cookie: the flow follows the browser's new one, or that
    # browser could no longer even read it (403).
    flow.csrf_token = c.engine.csrf.token_for(request)
    flow.ui.set_value("csrf_token", flow.csrf_token)
    if not privileged(c, session, identity):
        flow.internal[PENDING] = pending
        await c.engine.save(flow)
        return see_other(refresh_url(c, flow, session, identity))
    _require_aal(c, session, identity, request_url(request, c.config.public_base_url))
    return await _apply(c, request, flow, session, identity, _paused_body(request, pending))


async def _apply(
    c: SelfserviceContainer,
    request: web.Request,
    flow: Flow,
    session: dict[str, Any],
    identity: dict[str, Any],
    body: dict[str, Any],
) -> web.StreamResponse:
    flow.transient_payload = body.get("transient_payload")
    flow.ui.clear_messages()
    strategy = _strategy_for(c.methods.settings, body)
    if strategy is None:
        c.engine.metrics.submission(KIND).failed()
        flow.ui.messages.append(text.no_settings_strategy())
        return await c.engine.respond_invalid(request, flow)
    if strategy.needs_privileged_session(body, identity) and not privileged(c, session, identity):
        if flow.is_browser:
            return await _pause(c, request, flow, session, identity, body)
        raise RefreshRequired(refresh_url(c, flow, session, identity))
    ctx = SettingsContext(request, session, identity, c.verifier)
    submission = c.engine.metrics.submission(KIND, strategy.method)
    try:
        if not (isinstance(strategy, CompletesElsewhere) and strategy.completes_elsewhere(body)):
            ctx.metadata = await interrupting_hooks(c, request, flow, body, identity, strategy.method, session)
        updated = await strategy.update_settings(flow, body, ctx)
    except RedirectBrowser as redirect:  # linking a social sign-in provider
        return await c.engine.redirect_browser(flow, redirect.url)
    except FlowInvalid:
        submission.failed()
        return await c.engine.respond_invalid(request, flow)
    except ShowForm:
        return await _show_form(c, request, flow)
    hooked = HookContext(request, flow, updated, strategy.method, session=session, previous=identity)
    await c.hooks.run(KIND, "after", "post", hooked)
    response = await settings_succeeded(c, request, flow, strategy.method, updated, ctx, hooked.deliveries)
    submission.succeeded()
    return response


async def _pause(
    c: SelfserviceContainer,
    request: web.Request,
    flow: Flow,
    session: dict[str, Any],
    identity: dict[str, Any],
    body: dict[str, Any],
) -> web.StreamResponse:
    """The change is kept server-side with the flow (never in its JSON) until this browser returns
    re-authenticated, as Kratos's continuity container keeps it; resuming removes it. The answer is
    the refresh-required error (a redirect for a browser that is not shown JSON), with the cookie
    that binds the change to this browser."""
    token = continuity.new_token()
    change = json_codec.dumps_bytes({k: v for k, v in body.items() if k != "csrf_token"})
    flow.internal[PENDING] = {
        "session_id": session["id"],
        "browser": continuity.digest(token),
        "sealed": continuity.seal(token, change),
    }
    await c.engine.save(flow)
    url = refresh_url(c, flow, session, identity)
    response = error_response(RefreshRequired(url), request) if wants_json(request) else see_other(url)
    continuity.set_cookie(response, CookieConfig.general(c.settings, continuity.COOKIE), token)
    return response


def _paused_body(request: web.Request, pending: dict[str, Any]) -> dict[str, Any]:
    """The paused change, opened with this browser's continuity cookie (one paused before the
    change was sealed, by a process of before, is kept in the clear as `body`)."""
    if isinstance(pending.get("body"), dict):
        return dict(pending["body"])
    opened = continuity.unseal(request, str(pending.get("sealed") or ""))
    body = json_codec.loads(opened) if opened is not None else None
    return body if isinstance(body, dict) else {}


async def interrupting_hooks(
    c: SelfserviceContainer,
    request: web.Request,
    flow: Flow,
    body: dict[str, Any],
    identity: dict[str, Any],
    method: str,
    session: dict[str, Any],
) -> dict[str, Any]:
    """Interrupting web hooks see the identity as the submission would make it and may refuse it. A
    `response.parse` answer's traits replace the submitted ones; the metadata it gives is returned,
    for the method to save with its change (`SettingsContext.metadata`)."""
    proposed = dict(identity)
    if isinstance(body.get("traits"), dict):
        proposed["traits"] = body["traits"]
    await c.hooks.run(KIND, "after", "pre", HookContext(request, flow, proposed, method, session=session))
    if "traits" in body and proposed["traits"] is not body["traits"]:
        body["traits"] = proposed["traits"]
    return {name: proposed[name] for name in METADATA if proposed.get(name) is not identity.get(name)}


async def settings_succeeded(
    c: SelfserviceContainer,
    request: web.Request,
    flow: Flow,
    method: str,
    identity: dict[str, Any],
    ctx: SettingsContext,
    deliveries: list[WebhookRequested],
) -> web.StreamResponse:
    flow.state, flow.active = "success", method
    flow.fields["identity"] = public_identity(identity)
    _repopulate(c, flow, identity)
    if ctx.continue_with:
        flow.fields["continue_with"] = ctx.continue_with
    flow.ui.messages.append(text.settings_saved())
    flow.ui.reset_secrets()
    await c.events.closed(flow, events.SETTINGS_SUCCEEDED, deliveries, identity_id=identity["id"], method=method)
    if flow.type == API:
        return web.json_response(flow.to_json())
    # Kratos's order: the flow's return_to, the configured `settings.after[.<method>]` URL, then
    # the settings UI again, showing the saved flow.
    return_to = flow.return_to or c.config.configured_after_url(KIND, method) or _settings_ui_url(c, flow)
    if wants_json(request):
        # A SPA is told where the browser goes next as Kratos tells it, after the method's own
        # items; like those, the item is part of this answer only, not of the stored flow.
        answer = flow.to_json()
        redirect = {"action": "redirect_browser_to", "redirect_browser_to": return_to}
        answer["continue_with"] = [*(answer.get("continue_with") or []), redirect]
        return web.json_response(answer)
    return see_other(return_to)


def _repopulate(c: SelfserviceContainer, flow: Flow, identity: dict[str, Any]) -> None:
    """The forms as they now apply (a paired TOTP app offers unlinking, not pairing again)."""
    flow.ui.nodes = [n for n in flow.ui.nodes if n.name == "csrf_token"]
    for strategy in c.methods.settings:
        strategy.populate_settings(flow, identity)


def _strategy_for(strategies: list[Any], body: dict[str, Any]) -> Any:
    method = body.get("method")
    for strategy in strategies:
        if strategy.method == method or (isinstance(strategy, ClaimsSubmission) and strategy.claims(body)):
            return strategy
    return None


async def _show_form(c: SelfserviceContainer, request: web.Request, flow: Flow) -> web.StreamResponse:
    await c.engine.save(flow)
    if flow.type == API or wants_json(request):
        return web.json_response(flow.to_json())
    return c.engine.ui_redirect(flow)


def privileged_session_max_age(c: SelfserviceContainer) -> timedelta:
    """How long after signing in a session may make changes that matter (and a recovered user has to
    set a new password, as the recovery message says)."""
    return parse_duration(c.settings.get("selfservice.flows.settings.privileged_session_max_age") or "1h")


def privileged(c: SelfserviceContainer, session: dict[str, Any], identity: dict[str, Any]) -> bool:
    """Whether the session signed in recently enough for a change that asks for a privileged
    session: with each factor it holds, where the identity has a second one (privilege.py)."""
    return stale_factor(session, identity, privileged_session_max_age(c), c.config.assurance) is None


def _require_aal(
    c: SelfserviceContainer, session: dict[str, Any], identity: dict[str, Any] | None, return_to: str | None
) -> None:
    """`selfservice.flows.settings.required_aal` (Kratos's default `highest_available`): an identity
    with a second factor changes nothing from a session that has not used it. The aal2 login returns
    to `return_to` when there is one (Kratos's `DoesSessionSatisfy` with `WithRequestURL`): the
    request itself on a submission, the settings UI on a fetch."""
    required = c.settings.get("selfservice.flows.settings.required_aal") or aal.HIGHEST_AVAILABLE
    session_aal = session.get("authenticator_assurance_level", "")
    if identity is not None and not c.config.assurance.satisfies(session_aal, identity, required):
        query = {"aal": aal.AAL2, **({"return_to": return_to} if return_to else {})}
        raise aal.Aal2Required(login_url(c, query))


def _settings_ui_url(c: SelfserviceContainer, flow: Flow) -> str:
    return f"{c.config.flows[KIND].ui_url}?{urlencode({'flow': flow.id})}"


def refresh_url(
    c: SelfserviceContainer,
    flow: Flow,
    session: dict[str, Any],
    identity: dict[str, Any],
    return_to: str | None = None,
) -> str:
    """Kratos returns a re-authenticated browser to the settings endpoint, which resumes the change
    (a browser flow's) or shows the flow; it names that endpoint for API flows too (`return_to`:
    somewhere else). A session whose first factor is fresh but whose second factor is not proves
    the second factor again."""
    resume_url = (
        return_to or f"{c.config.public_base_url.rstrip('/')}/self-service/settings?{urlencode({'flow': flow.id})}"
    )
    stale = stale_factor(session, identity, privileged_session_max_age(c), c.config.assurance)
    return login_url(
        c, {"refresh": "true", **({"aal": aal.AAL2} if stale == aal.AAL2 else {}), "return_to": resume_url}
    )


def login_url(c: SelfserviceContainer, query: dict[str, str]) -> str:
    return f"{c.config.public_base_url.rstrip('/')}/self-service/login/browser?{urlencode(query)}"


async def change_password(c: SelfserviceContainer, _request: web.Request) -> web.Response:
    """W3C's change-password URL: password managers land on the settings flow (Kratos answers 303)."""
    raise web.HTTPSeeOther(f"{c.config.public_base_url.rstrip('/')}/self-service/settings/browser")


ROUTES: list[Route[SelfserviceContainer]] = [
    Route("public", "GET", "/.well-known/change-password", change_password),
    Route("public", "GET", "/self-service/settings/browser", _init(BROWSER)),
    Route("public", "GET", "/self-service/settings/api", _init(API)),
    Route("public", "GET", "/self-service/settings/flows", get_flow),
    Route("public", "POST", "/self-service/settings", submit),
    Route("public", "GET", "/self-service/settings", resume),
]
