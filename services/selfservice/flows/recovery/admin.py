"""`POST /admin/recovery/code` and `/admin/recovery/link`: an operator hands a user a way back in."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode
from uuid import UUID

from aiohttp import web

from services.selfservice.flows.address_flow import new_address_flow
from services.selfservice.flows.flow import API, BROWSER, Flow, ts
from services.selfservice.flows.request import read_body
from services.selfservice.flows.ui import input_node
from services.selfservice.strategies.code.nodes import code_input
from shared import errors, text
from shared.service import Route
from shared.units import parse_duration

if TYPE_CHECKING:
    from services.selfservice.service import SelfserviceContainer

MAX_LIFESPAN = timedelta(days=30)
# Kratos's `strategy.EndpointDisabledMessage`, the 404 its `IsDisabled` wrapper answers.
ENDPOINT_DISABLED = (
    "This endpoint was disabled by system administrator. Please check your url or contact the system "
    "administrator to enable it."
)


def _lifespan(raw: Any) -> timedelta | None:
    """`expires_in`, refused with Kratos's reasons; past Kratos, Warden caps it (MAX_LIFESPAN)."""
    if raw is None or raw == "":
        return None
    spelled = str(raw).strip()
    try:
        lifespan = parse_duration(spelled.removeprefix("-"))
    except (ValueError, OverflowError) as exc:
        raise errors.BadRequest(
            f'Unable to parse "expires_in" whose format should match "[0-9]+(ns|us|ms|s|m|h)" but did not: {raw}'
        ) from exc
    if spelled.startswith("-") or lifespan <= timedelta(0):
        raise errors.BadRequest(f'Value from "expires_in" must result to a future time: {raw}')
    if lifespan > MAX_LIFESPAN:
        raise errors.BadRequest(f"expires_in must be at most {MAX_LIFESPAN.days} days")
    return lifespan


def _identity_id(body: dict[str, Any]) -> str:
    """Kratos decodes `identity_id` as a UUID: a malformed one is a bad body, not an unknown identity."""
    raw = str(body.get("identity_id") or "")
    try:
        return str(UUID(raw))
    except ValueError:
        raise errors.BadRequest(f"identity_id must be a UUID, not {raw!r}") from None


async def _prepare(
    c: SelfserviceContainer, request: web.Request, method: str
) -> tuple[Any, dict[str, Any], timedelta, str]:
    body = await read_body(request)
    strategy = c.methods.recovery.get(method)
    if strategy is None:
        raise errors.NotFound(ENDPOINT_DISABLED)
    identity_id = _identity_id(body)
    lifespan = _lifespan(body.get("expires_in")) or c.proof.lifespans[method]
    identity = await c.engine.identities.get_identity(identity_id)
    if identity is None:
        raise errors.NotFound("The requested identity does not exist.", message="Unable to locate the resource")
    flow_type = API if body.get("flow_type") == API else BROWSER
    flow = await new_address_flow(c, request, "recovery", flow_type)
    flow.internal["admin"] = True  # opened from a link the operator passed on: no CSRF cookie to bind yet
    address = next((a["value"] for a in identity.get("recovery_addresses") or []), "")
    async with c.uow() as uow:
        secret = await c.proof.codes.issue(
            uow.connection,
            flow_id=flow.id,
            kind="recovery",
            method=method,
            address=address,
            via="email",
            identity_id=identity["id"],
            lifespan=lifespan,
        )
        if method == "code":  # a link is followed, not typed: the flow keeps its address form
            flow.state = "sent_email"
            _code_form(flow)
        flow.expires_at = max(flow.expires_at, flow.issued_at + lifespan)
        await c.flows.save(uow.connection, flow)
        await uow.commit()
    return flow, identity, lifespan, secret


def _code_form(flow: Flow) -> None:
    """Kratos's form for an operator's code: the code field and Submit, nothing else. No resend
    button (it would show the account's address to whoever holds the link, and mail a code the
    operator did not ask for), no CSRF field (no browser is bound to the flow) and no "sent" message
    (nothing was mailed)."""
    flow.ui.nodes = [
        code_input(text.label_recovery_code()),
        input_node("code", "method", "submit", value="code", label=text.label_submit()),
    ]
    flow.ui.messages = []


async def create_code(c: SelfserviceContainer, request: web.Request) -> web.Response:
    flow, _identity, lifespan, code = await _prepare(c, request, "code")
    link = f"{c.config.flows['recovery'].ui_url}?{urlencode({'flow': flow.id})}"  # the UI, where the code is typed
    return web.json_response(
        {"recovery_link": link, "recovery_code": code, "expires_at": ts(flow.issued_at + lifespan)}, status=201
    )


async def create_link(c: SelfserviceContainer, request: web.Request) -> web.Response:
    flow, _identity, lifespan, token = await _prepare(c, request, "link")
    link = (
        f"{c.config.public_base_url.rstrip('/')}/self-service/recovery?{urlencode({'flow': flow.id, 'token': token})}"
    )
    return web.json_response({"recovery_link": link, "expires_at": ts(flow.issued_at + lifespan)})


ROUTES: list[Route[SelfserviceContainer]] = [
    Route("admin", "POST", "/admin/recovery/code", create_code),
    Route("admin", "POST", "/admin/recovery/link", create_link),
]
