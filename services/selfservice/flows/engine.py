"""The machinery every flow handler shares (Kratos's `selfservice/flow` package): creating a flow
with its CSRF binding, finding the caller's session, loading and expiring flows, and answering the
way the client asked (303 to the UI for browsers, JSON otherwise)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn
from urllib.parse import urlencode
from uuid import UUID

from aiohttp import web

from services.selfservice.config import SelfserviceConfig
from services.selfservice.flows import token_exchange
from services.selfservice.flows.csrf import Csrf
from services.selfservice.flows.errors import (
    BrowserLocationChangeRequired,
    FetchedFlowExpired,
    FlowExpired,
    FlowNotFound,
    ReturnToForbidden,
)
from services.selfservice.flows.flow import API, BROWSER, Flow, now
from services.selfservice.flows.persistence import FlowRepository, spend
from services.selfservice.flows.request import request_url, wants_json
from services.selfservice.flows.ui import input_node
from shared import text
from shared.clients.ports import IdentityClient, SessionClient
from shared.cookies import CookieConfig, CookieSigner, clear_session_cookie, session_token, set_session_cookie
from shared.errors import BadRequest, ServiceUnavailable, TooManyRequests
from shared.http.client_ip import client_ip
from shared.json_codec import json_response
from shared.metrics.flows import FlowMetrics
from shared.ratelimit.limits import ClientLimits
from shared.storage.uow import UnitOfWorkFactory

EXPIRED = {
    "login": text.login_flow_expired,
    "registration": text.registration_flow_expired,
    "settings": text.settings_flow_expired,
    "recovery": text.recovery_flow_expired,
    "verification": text.verification_flow_expired,
}


@dataclass(frozen=True)
class FlowEngine:
    config: SelfserviceConfig
    uow: UnitOfWorkFactory
    flows: FlowRepository
    csrf: Csrf
    sessions: SessionClient
    identities: IdentityClient
    cookie: CookieConfig
    signer: CookieSigner | None
    limits: ClientLimits
    metrics: FlowMetrics
    # Runs the flow kind's `before` hooks on a new flow (the composition root wires the hook registry).
    before: Callable[[web.Request, Flow], Awaitable[None]] | None = None

    # --- the caller --------------------------------------------------------------------------
    async def current_session(self, request: web.Request) -> dict[str, Any] | None:
        token = session_token(request, self.cookie, self.signer)
        return await self.sessions.session_by_token(token) if token else None

    def return_to(self, request: web.Request, flow: Flow | None = None) -> str | None:
        url = request.query.get("return_to") or (flow.return_to if flow else None)
        if not url:
            return None
        absolute = self.config.absolute_return_to(url)
        if not self.config.return_to_allowed(absolute):
            raise ReturnToForbidden(url)
        return absolute

    # --- creating and finding flows ----------------------------------------------------------
    async def create(self, request: web.Request, kind: str, flow_type: str, **fields: Any) -> Flow:
        flow = Flow.new(
            kind,
            flow_type,
            request_url(request, self.config.public_base_url),
            self.config.public_base_url,
            self.config.flows[kind].lifespan,
            return_to=self.return_to(request),
            fields=fields,
        )
        flow.session_token_exchange_code = token_exchange.start(flow, request)
        if flow_type == BROWSER:
            flow.csrf_token = request.get(NEXT_CSRF_TOKEN) or self.csrf.token_for(request)
            flow.ui.add(input_node("default", "csrf_token", "hidden", value=flow.csrf_token, required=True))
        if self.before is not None:
            await self.before(request, flow)
        self.metrics.started.labels(kind).inc()
        return flow

    async def insert(self, flow: Flow) -> None:
        # One statement (no BEGIN, no COMMIT on PostgreSQL), which need not wait for the disk: a flow
        # lost in a crash of the database is one its visitor starts again.
        async with self.uow(durable=False) as uow:
            uow.write(*self.flows.insertion(flow))
            await uow.commit()

    async def save(self, flow: Flow, *, over_loaded: bool = False, durable: bool = True) -> None:
        """`over_loaded`: only over the stored flow this copy was loaded from (persistence.py's
        `update_over_loaded` says why). `durable=False`: a save that a crash of the database may
        lose at no cost (the flow goes back to what it was), which then need not wait for the disk."""
        async with self.uow(durable=durable) as uow:
            uow.write(*(self.flows.update_over_loaded(flow) if over_loaded else self.flows.update(flow)))
            await uow.commit()

    async def spend(self, flow: Flow, key: str, value: object) -> bool:
        """A one-time secret kept in the flow, spent once (persistence.py's `spend`)."""
        return await spend(self.uow, self.flows, flow, key, value)

    async def load(self, flow_id: str | None, kind: str) -> Flow:
        if not flow_id:
            raise FlowNotFound()
        async with self.uow.read() as conn:
            flow = await self.flows.get(conn, flow_id, kind)
        if flow is None:
            raise FlowNotFound()
        return flow

    async def load_submitted(self, request: web.Request, kind: str) -> Flow:
        """The flow a submission names in `?flow=` (Kratos's `GetFlowID`): a missing or malformed id
        is the client's mistake, a 400, where an id that names no flow is a 404."""
        flow_id = request.query.get("flow")
        try:
            UUID(flow_id or "")
        except ValueError:
            raise BadRequest("The flow query parameter is missing or malformed.") from None
        return await self.load(flow_id, kind)

    async def load_for_reading(self, request: web.Request, kind: str) -> Flow:
        """`GET …/flows?id=`: a browser flow only for the browser it was made for; an expired one is 410."""
        flow = await self.load(request.query.get("id"), kind)
        self.check_reader(request, flow)
        self.check_unexpired(flow)
        return flow

    def check_reader(self, request: web.Request, flow: Flow) -> None:
        """A browser flow is read by the browser it was made for alone (its CSRF cookie)."""
        if flow.is_browser and not flow.internal.get("admin"):  # an operator's flow has no browser to bind to
            self.csrf.check_cookie(request, flow.csrf_token)

    def check_unexpired(self, flow: Flow) -> None:
        """A fetched flow that has expired is 410, with where to start a new one."""
        if flow.expired():
            raise FetchedFlowExpired(flow.kind, flow.is_browser, self.config.public_base_url, flow.return_to)

    def check_submission(self, request: web.Request, flow: Flow, body: dict[str, Any]) -> None:
        """Browser flows need their CSRF token; API flows must not look like a browser (Kratos's
        `EnsureCSRF`): no Origin header and no cookies (Cloudflare's own excepted)."""
        if flow.is_browser:
            if not flow.internal.get("admin"):
                self.csrf.check_submission(request, body, flow.csrf_token)
            return
        if request.headers.get("Origin"):
            raise BadRequest(
                "The request contained an Origin header, which is only allowed for browser flows: "
                "use the browser endpoint to initialize this flow."
            )
        if any(not name.startswith(("__cf", "_cf", "cf_")) for name in request.cookies):
            raise BadRequest(
                "The request contained cookies, which are only allowed for browser flows: "
                "use the browser endpoint to initialize this flow."
            )

    # --- answering ---------------------------------------------------------------------------
    def ui_redirect(self, flow: Flow) -> web.Response:
        return see_other(f"{self.config.flows[flow.kind].ui_url}?{urlencode({'flow': flow.id})}")

    def respond_new(self, request: web.Request, flow: Flow) -> web.StreamResponse:
        if flow.type == API or wants_json(request):
            response = json_response(flow.to_json())
        else:
            response = self.ui_redirect(flow)
        if flow.is_browser:
            self.csrf.set_cookie(response, flow.csrf_token)
        return response

    async def redirect_browser(self, flow: Flow, url: str) -> NoReturn:
        """Saves what a method stored in the flow, then sends the client to `url` (raises)."""
        await self.save(flow)
        raise BrowserLocationChangeRequired(url)

    async def respond_invalid(
        self, request: web.Request, flow: Flow, *, with_payload: bool = False
    ) -> web.StreamResponse:
        """Validation errors go back into the flow: 400 with it, or the browser back to the UI.
        `with_payload`: the JSON shows the submitted `transient_payload` (never stored)."""
        flow.ui.reset_secrets()
        # Lost in a crash of the database, this save (after a refused submission, or a step on the way
        # such as a code sent) leaves the flow as it was before that submission: nothing spent comes
        # back and nothing sent is unsent (spending, codes and events commit durably, and a durable
        # commit after this one flushes it too), so it does not wait for the disk.
        await self.save(flow, over_loaded=True, durable=False)
        if flow.type == API or wants_json(request):
            shown = flow.to_json()
            if with_payload and flow.transient_payload is not None:
                shown["transient_payload"] = flow.transient_payload
            return json_response(shown, status=400)
        return self.ui_redirect(flow)

    async def limit(self, action: str) -> None:
        """Counts one `action` (a flow submission, a code sent) for the client's IP; TooManyRequests
        past its window."""
        await self.limits.check_ip(action, client_ip.get())

    async def respond_throttled(self, request: web.Request, flow: Flow, refused: TooManyRequests) -> web.StreamResponse:
        """Too many attempts: the flow with a message saying when to retry, 429 with Retry-After for
        JSON clients, the UI (which shows the message) for browsers."""
        flow.ui.messages.append(text.too_many_requests(refused.retry_after))
        response = await self.respond_invalid(request, flow)
        if response.status == 400:
            response.set_status(429)
        response.headers["Retry-After"] = str(refused.retry_after)
        return response

    async def replace_expired(self, request: web.Request, flow: Flow, replacement: Flow) -> web.StreamResponse:
        """A submission to an expired flow gets the stored `replacement`, as Kratos does (410 with its
        id for JSON clients, a redirect to it for browsers)."""
        replacement.ui.messages.append(EXPIRED[flow.kind](flow.expires_at, now()))
        await self.save(replacement)
        if flow.type == API or wants_json(request):
            raise FlowExpired(flow.expires_at, replacement.id)
        response = self.ui_redirect(replacement)
        self.csrf.set_cookie(response, replacement.csrf_token)
        return response

    def with_session_cookie(
        self, response: web.StreamResponse, token: str, session: dict[str, Any], *, csrf_token: str | None = None
    ) -> web.StreamResponse:
        """The session cookie, and a new CSRF cookie beside it (Kratos regenerates it when it issues
        a session): a token planted or read before sign-in is worth nothing after it. `csrf_token`
        binds the browser to a flow made for the new session (recovery's settings flow)."""
        if self.signer is None:
            raise ServiceUnavailable("browser sessions need secrets.cookie (or secrets.default) in the config")
        expires = datetime.fromisoformat(str(session["expires_at"]).replace("Z", "+00:00"))
        set_session_cookie(response, token, expires.timestamp(), self.cookie, self.signer)
        self.csrf.set_cookie(response, csrf_token or self.csrf.new_token())
        return response

    def without_session_cookie(self, response: web.StreamResponse) -> web.StreamResponse:
        clear_session_cookie(response, self.cookie)
        return response


# Request key: the CSRF token this request's answer will set (a sign-up that issues a session rotates
# it); browser flows made during the request are bound to it rather than to the cookie being replaced.
NEXT_CSRF_TOKEN = web.RequestKey("next_csrf_token", str)


def see_other(url: str) -> web.Response:
    return web.Response(status=303, headers={"Location": url})
