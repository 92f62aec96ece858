"""The login flow's routes (Kratos's `selfservice/flow/login/handler.go`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from services.selfservice.flows.engine import see_other
from services.selfservice.flows.errors import Aal1Required, IdentityMismatch, SessionAlreadyAvailable
from services.selfservice.flows.flow import API, BROWSER, Flow
from services.selfservice.flows.identity_schema import requested_schema, schema_fields, schema_of
from services.selfservice.flows.login.flow import login_fields, same_identity, scoped_to_organization
from services.selfservice.flows.login.hook import complete_login
from services.selfservice.flows.login.strategy import LoginOutcome, LoginStrategy, RefreshesLogin
from services.selfservice.flows.login_challenge import refuse_login_challenge
from services.selfservice.flows.organizations import organization_methods
from services.selfservice.flows.request import wants_json
from services.selfservice.flows.submit import FlowSteps
from services.selfservice.flows.submit import submit as submit_flow
from services.selfservice.strategies.identifier_first.strategy import METHOD as IDENTIFIER_FIRST
from services.selfservice.strategies.identifier_first.strategy import first_screen
from shared import text
from shared.aal import passwordless_key
from shared.service import Handler, Route

if TYPE_CHECKING:
    from services.selfservice.service import SelfserviceContainer

KIND = "login"


def _init(flow_type: str) -> Handler[SelfserviceContainer]:
    async def handler(c: SelfserviceContainer, request: web.Request) -> web.StreamResponse:
        if flow_type == BROWSER:
            refuse_login_challenge(request, c.settings)  # before anything else, as Kratos reads it
        fields = {**login_fields(request), **schema_fields(requested_schema(request, c.schemas))}
        session = await c.engine.current_session(request)
        if not _login_wanted(fields, session):
            if flow_type == BROWSER and not wants_json(request):
                return see_other(c.engine.return_to(request) or c.config.default_return_url)
            raise SessionAlreadyAvailable()
        flow = await new_login_flow(c, request, flow_type, fields, session)
        return c.engine.respond_new(request, flow)

    return handler


def _login_wanted(fields: dict[str, Any], session: dict[str, Any] | None) -> bool:
    """Kratos's `NewLoginFlow`: without a session only aal1, and nothing to refresh; with one, only
    a refresh or a level above the session's (False: signed in already)."""
    if session is None:
        if fields["requested_aal"] != "aal1":
            raise Aal1Required()
        fields["refresh"] = False
        return True
    return bool(fields["refresh"]) or _raises(session, fields["requested_aal"])


async def new_login_flow(
    c: SelfserviceContainer,
    request: web.Request,
    flow_type: str,
    fields: dict[str, Any],
    session: dict[str, Any] | None,
    internal: dict[str, Any] | None = None,
    *,
    return_to: str | None = None,
) -> Flow:
    scoped = scoped_to_organization(fields, session)
    flow = await c.engine.create(request, KIND, flow_type, **fields)
    if return_to is not None:  # a step made for the browser in another flow's request carries that flow's
        flow.return_to = return_to
    if session is not None:
        flow.internal["session_id"] = session["id"]
        flow.internal["identity_id"] = session["identity"]["id"]
    flow.internal.update(internal or {})
    if fields["requested_aal"] == "aal2" and flow.internal.get("identity_id"):
        # Second factors offer themselves only to an identity that holds them.
        identity = await c.engine.identities.get_identity(flow.internal["identity_id"])
        flow.internal["credential_types"] = sorted((identity or {}).get("credentials") or {})
        webauthn = ((identity or {}).get("credentials") or {}).get("webauthn") or {}
        flow.internal["webauthn_keys"] = [  # the security keys a browser is asked for: second-factor ones
            k["id"]
            for k in (webauthn.get("config") or {}).get("credentials") or []
            if isinstance(k.get("id"), str) and not passwordless_key(k)
        ]
        flow.internal["verified_addresses"] = [  # where a code as a second factor may go
            {"via": a["via"], "value": a["value"]}
            for a in (identity or {}).get("verifiable_addresses") or []
            if a.get("verified")
        ]
    identifier_first = c.config.flows[KIND].style == IDENTIFIER_FIRST and first_screen(flow)
    # A first-factor refresh knows whose session it refreshes (an aal2 one is the second factors' form).
    refreshed = flow.internal.get("identity_id") if fields["refresh"] and fields["requested_aal"] == "aal1" else None
    # An organization's form has its methods alone, whatever the style (Kratos filters the
    # identifier-first method out with the others).
    for strategy in organization_methods(c.methods.login) if scoped else c.methods.login:
        if not scoped and (strategy.method == IDENTIFIER_FIRST) != identifier_first:
            continue
        if refreshed and isinstance(strategy, RefreshesLogin):
            await strategy.populate_login_refresh(flow, refreshed)
        else:
            strategy.populate_login(flow)
    if fields["refresh"]:
        flow.ui.messages[:] = [text.login_refresh_requested()]  # Kratos sets it in place of any other
        if flow.internal.get("identity_id"):
            await _identifier_of_the_session(c, flow)
    if session is not None and _raises(session, fields["requested_aal"]):
        # After the refresh message, and only when the session lacks the level (Kratos's
        # NewLoginFlow): refreshing an aal2 session asks for its factors again, not for more.
        flow.ui.messages.append(text.login_mfa())
    await c.engine.insert(flow)
    return flow


async def _identifier_of_the_session(c: SelfserviceContainer, flow: Flow) -> None:
    """A refresh login knows who signs in: Kratos (`GuessForcedLoginIdentifier`) puts the session's
    identifier in a hidden, filled field and asks only for the secret."""
    node = flow.ui.find("identifier")
    identity = await c.engine.identities.get_identity(flow.internal["identity_id"]) if node else None
    credentials = (identity or {}).get("credentials") or {}
    identifiers = [i for kind in ("password", "code") for i in (credentials.get(kind) or {}).get("identifiers") or []]
    if node is None or not identifiers:
        return
    node.attributes.update(type="hidden", value=identifiers[0], required=False)
    node.attributes.pop("autocomplete", None)
    node.meta.pop("label", None)


async def _renew(c: SelfserviceContainer, request: web.Request, old: Flow) -> Flow:
    """Kratos's `FromOldFlow`: a new flow as the submission would start one (its `refresh`, `aal` and
    organization read from this request's query, which seldom has them; the request's session, not
    the old flow's), keeping where the old one was started from and the identity schema it was made for."""
    fields = {**login_fields(request), **schema_fields(schema_of(old))}
    session = await c.engine.current_session(request)
    if not _login_wanted(fields, session):
        raise SessionAlreadyAvailable()  # Kratos forwards it: JSON for apps, the error UI for browsers
    fresh = await new_login_flow(c, request, old.type, fields, session)
    fresh.return_to, fresh.request_url = old.return_to, old.request_url
    return fresh


async def _no_session_unless_upgrading(
    c: SelfserviceContainer, request: web.Request, flow: Flow
) -> web.StreamResponse | None:
    """Kratos's `updateLoginFlow` looks for a session before anything else: someone already signed
    in may only refresh it or raise its AAL. Otherwise an app or a SPA is refused, and a browser's
    form (another tab's, say) is sent to the default return URL as if it had signed in. An AAL
    step is for the session it upgrades alone: the flow's id is not enough."""
    session = await c.engine.current_session(request)
    if session is not None and not flow.fields.get("refresh"):
        if not _raises(session, flow.fields.get("requested_aal") or "aal1"):
            if flow.type == API or wants_json(request):
                raise SessionAlreadyAvailable()
            return see_other(c.config.default_return_url)
    if flow.fields.get("requested_aal", "aal1") != "aal1":
        _the_upgraded_session(flow, session)
    return None


def _the_upgraded_session(flow: Flow, session: dict[str, Any] | None) -> None:
    """401 `session_aal1_required` without a session (Kratos's `ErrSessionRequiredForHigherAAL`), 403
    `security_identity_mismatch` with another one than the flow was made for."""
    if session is None:
        raise Aal1Required()
    if session["id"] != flow.internal.get("session_id"):
        raise IdentityMismatch()


_AAL_RANK = {"aal0": 0, "aal1": 1, "aal2": 2}


def _raises(session: dict[str, Any], requested_aal: str) -> bool:
    """Whether the requested level is above the session's (Kratos: asking for the level a session
    has already, or a lower one, is being signed in already)."""
    held = _AAL_RANK.get(session.get("authenticator_assurance_level") or "aal1", 1)
    return _AAL_RANK.get(requested_aal, 1) > held


async def get_flow(c: SelfserviceContainer, request: web.Request) -> web.Response:
    return web.json_response((await c.engine.load_for_reading(request, KIND)).to_json())


async def _login(strategy: LoginStrategy, flow: Flow, body: dict[str, Any]) -> LoginOutcome:
    outcome = await strategy.login(flow, body)
    same_identity(flow, outcome.identity)
    return outcome


async def _failed(c: SelfserviceContainer, flow: Flow, body: dict[str, Any]) -> None:
    await c.events.login_failed(flow, body.get("method"))


STEPS = FlowSteps(
    kind=KIND,
    renew=_renew,
    completed=text.login_already_completed,
    no_strategy=text.no_login_strategy,
    act=_login,
    complete=complete_login,
    failed=_failed,
    guard=_no_session_unless_upgrading,
)


async def submit(c: SelfserviceContainer, request: web.Request) -> web.StreamResponse:
    return await submit_flow(c, request, STEPS, c.methods.login)


ROUTES: list[Route[SelfserviceContainer]] = [
    Route("public", "GET", "/self-service/login/browser", _init(BROWSER)),
    Route("public", "GET", "/self-service/login/api", _init(API)),
    Route("public", "GET", "/self-service/login/flows", get_flow),
    Route("public", "POST", "/self-service/login", submit),
]
