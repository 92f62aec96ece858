"""The registration flow's routes (Kratos's `selfservice/flow/registration/handler.go`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from services.selfservice.flows.engine import see_other
from services.selfservice.flows.errors import FlowDisabled, SessionAlreadyAvailable
from services.selfservice.flows.flow import API, BROWSER, Flow
from services.selfservice.flows.identity_schema import requested_schema, schema_fields, schema_of
from services.selfservice.flows.login_challenge import refuse_login_challenge
from services.selfservice.flows.organizations import organization_methods, organization_of
from services.selfservice.flows.registration.hook import complete_registration
from services.selfservice.flows.registration.strategy import RegistrationOutcome, RegistrationStrategy
from services.selfservice.flows.request import wants_json
from services.selfservice.flows.submit import FlowSteps
from services.selfservice.flows.submit import submit as submit_flow
from services.selfservice.strategies.profile.registration import METHOD as PROFILE
from services.selfservice.strategies.profile.registration import PROFILE_FIRST, method_of
from shared import text
from shared.service import Handler, Route

if TYPE_CHECKING:
    from services.selfservice.service import SelfserviceContainer

KIND = "registration"


def _init(flow_type: str) -> Handler[SelfserviceContainer]:
    async def handler(c: SelfserviceContainer, request: web.Request) -> web.StreamResponse:
        if not c.config.flows[KIND].enabled:
            raise FlowDisabled(KIND)
        schema = requested_schema(request, c.schemas)  # Kratos's NewRegistrationFlow, before the session
        if flow_type == BROWSER:
            refuse_login_challenge(request, c.settings)  # Kratos: after building the flow, before the session
        if await c.engine.current_session(request) is not None:
            if flow_type == BROWSER and not wants_json(request):
                return see_other(c.engine.return_to(request) or c.config.default_return_url)
            raise SessionAlreadyAvailable("registration")
        return c.engine.respond_new(request, await new_registration_flow(c, request, flow_type, schema))

    return handler


async def new_registration_flow(
    c: SelfserviceContainer, request: web.Request, flow_type: str, identity_schema: str | None = None
) -> Flow:
    """`identity_schema`: the schema the flow is for, already checked (identity_schema.py); None: the
    default. `?organization=` scopes the flow (flows/organizations.py)."""
    organization = organization_of(request)  # Kratos's registration `PrepareOrganizations`
    flow = await c.engine.create(
        request, KIND, flow_type, organization_id=organization, **schema_fields(identity_schema)
    )
    if organization:  # the organization's methods alone, with no profile step before them
        offered = organization_methods(c.methods.registration)
    else:
        profile_first = c.config.flows[KIND].style == PROFILE_FIRST
        offered = [s for s in c.methods.registration if (s.method == PROFILE) == profile_first]
    for strategy in offered:
        strategy.populate_registration(flow)
    await c.engine.insert(flow)
    return flow


async def _renew(c: SelfserviceContainer, request: web.Request, old: Flow) -> Flow:
    fresh = await new_registration_flow(c, request, old.type, schema_of(old))
    fresh.return_to = old.return_to
    return fresh


async def get_flow(c: SelfserviceContainer, request: web.Request) -> web.Response:
    if not c.config.flows[KIND].enabled:  # Kratos's `getRegistrationFlow` checks first, too
        raise FlowDisabled(KIND)
    return web.json_response((await c.engine.load_for_reading(request, KIND)).to_json())


async def _signed_out_only(c: SelfserviceContainer, request: web.Request, flow: Flow) -> web.StreamResponse | None:
    """Kratos's `updateRegistrationFlow` is for the signed-out alone, and looks for a session before
    anything else: a signed-in app or SPA is refused (400 session_already_available), a browser's
    form (a tab opened before signing in) goes to the default return URL. Never a second account."""
    if await c.engine.current_session(request) is None:
        return None
    if flow.type == API or wants_json(request):
        raise SessionAlreadyAvailable(KIND)
    return see_other(c.config.default_return_url)


async def _register(strategy: RegistrationStrategy, flow: Flow, body: dict[str, Any]) -> RegistrationOutcome:
    return await strategy.register(flow, body)


STEPS = FlowSteps(
    kind=KIND,
    renew=_renew,
    completed=text.registration_already_completed,
    no_strategy=text.no_registration_strategy,
    act=_register,
    complete=complete_registration,
    method_of=method_of,
    guard=_signed_out_only,
)


async def submit(c: SelfserviceContainer, request: web.Request) -> web.StreamResponse:
    return await submit_flow(c, request, STEPS, c.methods.registration)


ROUTES: list[Route[SelfserviceContainer]] = [
    Route("public", "GET", "/self-service/registration/browser", _init(BROWSER)),
    Route("public", "GET", "/self-service/registration/api", _init(API)),
    Route("public", "GET", "/self-service/registration/flows", get_flow),
    Route("public", "POST", "/self-service/registration", submit),
]
