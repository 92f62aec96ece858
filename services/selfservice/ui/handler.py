"""The built-in UI under `/ui/` (DESIGN §6), server-rendered and working like Kratos's reference UI
(kratos-selfservice-ui-node): a flow page without `?flow=` starts a browser flow; with it, it loads
the flow as `GET /self-service/<flow>/flows` does and renders its nodes; a flow that is gone,
expired or not this browser's is replaced by a new one. Where the UI lives is the config's
business (`selfservice.flows.*.ui_url`); these routes answer at the defaults that point here."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web
from yarl import URL

from services.selfservice.config import FLOW_KINDS
from services.selfservice.flows.browser_errors import with_browser_errors
from services.selfservice.flows.engine import see_other
from services.selfservice.flows.error.handler import STUB
from services.selfservice.flows.errors import FlowNotFound, IdentityMismatch, NoActiveSession
from services.selfservice.flows.identity_schema import FIELD as IDENTITY_SCHEMA
from services.selfservice.flows.identity_schema import schema_fields, schema_of
from services.selfservice.flows.logout.handler import SIGNED_OUT_COOKIE
from services.selfservice.ui.links import logout_url
from services.selfservice.ui.pages import static_response
from services.selfservice.ui.view import first_invalid, sections
from services.selfservice.ui.welcome import WELCOME_PATH, welcome
from shared.errors import WardenError
from shared.service import Handler, Route

if TYPE_CHECKING:
    from services.selfservice.service import SelfserviceContainer

ERROR_PATH, STYLESHEET_PATH, NOT_FOUND_PATH = "/ui/error", "/ui/style.css", "/ui/{tail:.*}"
# What the reference UI forwards to the init endpoint (the login flow's own query fields), and the
# identity schema a registration or login is for (`?identity_schema=`, kept by the links between them).
INIT_PARAMS = {
    "login": ("return_to", "refresh", "aal", IDENTITY_SCHEMA),
    "registration": ("return_to", IDENTITY_SCHEMA),
}
# Statuses the reference UI answers with a new flow (`redirectOnSoftError`): gone, expired, another
# browser's (CSRF), and for settings no session or another identity's flow.
SOFT_ERRORS = frozenset({401, 403, 404, 410})
TITLES = {
    "login": "Sign in",
    "registration": "Create an account",
    "settings": "Account settings",
    "recovery": "Recover your account",
    "verification": "Verify your account",
}
Link = tuple[str, str]

# Not Kratos's message ids: the built-in UI's own notices, shown once by its pages after a cookie
# (path /ui/, a minute, no secret in it) says what happened.
LINK_ELSEWHERE_COOKIE = "warden_link_elsewhere"
NOTICES = {
    SIGNED_OUT_COOKIE: {"id": 0, "type": "info", "text": "You have signed out."},
    LINK_ELSEWHERE_COOKIE: {
        "id": 0,
        "type": "info",
        "text": "This verification link was opened in another browser than the one it was sent for, or it "
        "has been used already. Enter your email address to get a new code; if your address is "
        "verified already, you can simply sign in.",
    },
}
NOTICE_COOKIES = {"login": SIGNED_OUT_COOKIE, "verification": LINK_ELSEWHERE_COOKIE}


def init_url(c: SelfserviceContainer, kind: str, query: Mapping[str, str]) -> str:
    params = {k: query[k] for k in INIT_PARAMS.get(kind, ("return_to",)) if query.get(k)}
    url = f"{c.config.public_base_url.rstrip('/')}/self-service/{kind}/browser"
    return f"{url}?{urlencode(params)}" if params else url


async def load_flow(c: SelfserviceContainer, request: web.Request, kind: str, flow_id: str) -> dict[str, Any]:
    """The flow's public JSON, with the checks of `GET /self-service/<kind>/flows?id=`."""
    as_fetch = request.clone(rel_url=URL.build(path=f"/self-service/{kind}/flows", query={"id": flow_id}))
    flow = await c.engine.load_for_reading(as_fetch, kind)
    if kind == "settings":
        session = await c.engine.current_session(request)
        if session is None:
            raise NoActiveSession()
        if session["identity"]["id"] != flow.internal.get("identity_id"):
            raise IdentityMismatch()
    return flow.to_json()


def flow_page(kind: str) -> Handler[SelfserviceContainer]:
    async def handler(c: SelfserviceContainer, request: web.Request) -> web.StreamResponse:
        flow_id = request.query.get("flow")
        if not flow_id:
            return see_other(init_url(c, kind, request.query))
        try:
            flow = await load_flow(c, request, kind, flow_id)
        except WardenError as error:
            if error.code in SOFT_ERRORS:
                return await _start_again(c, request, kind, error.code)
            raise
        ui = flow["ui"]
        notice = _notice(kind, request)
        shown = sections(ui, kind)
        messages = ([notice] if notice else []) + (ui.get("messages") or [])
        page = c.pages.render(
            "flow.html",
            title=_title(kind, flow),
            kind=kind,
            ui_messages=messages,
            sections=shown,
            focus=first_invalid(shown) or ("messages" if any(m.get("type") == "error" for m in messages) else ""),
            action=ui["action"],
            method=ui["method"],
            links=await _flow_links(c, request, kind, flow),
        )
        if notice:  # said once
            page.del_cookie(NOTICE_COOKIES[kind], path="/ui/")
        return page

    return handler


async def _start_again(c: SelfserviceContainer, request: web.Request, kind: str, status: int) -> web.StreamResponse:
    """A new flow, as the reference UI does on a soft error. A verification link opened in another
    browser than the one it was sent for (its flow is that browser's: 403) says why on the new page.
    An expired flow's identity schema carries over, as it does when a submission renews the flow."""
    query: Mapping[str, str] = request.query
    if status == 410 and IDENTITY_SCHEMA in INIT_PARAMS.get(kind, ()):
        with suppress(FlowNotFound):  # cleaned up since: a flow of the default schema, then
            expired = await c.engine.load(request.query.get("flow"), kind)
            query = {**request.query, **schema_fields(schema_of(expired))}
    response = see_other(init_url(c, kind, query))
    if kind == "verification" and status == 403:
        response.set_cookie(LINK_ELSEWHERE_COOKIE, "1", max_age=60, path="/ui/", httponly=True, samesite="Lax")
    return response


def _notice(kind: str, request: web.Request) -> dict[str, Any] | None:
    cookie = NOTICE_COOKIES.get(kind)
    return NOTICES[cookie] if cookie and cookie in request.cookies else None


def _title(kind: str, flow: dict[str, Any]) -> str:
    if kind == "login" and flow.get("refresh"):
        return "Confirm it's you"
    if kind == "login" and flow.get("requested_aal") == "aal2":
        return "Second factor"
    return TITLES[kind]


async def _flow_links(c: SelfserviceContainer, request: web.Request, kind: str, flow: dict[str, Any]) -> list[Link]:
    ui_url = {k: _with_return_to(f.ui_url, flow.get("return_to")) for k, f in c.config.flows.items()}
    if schema := flow.get(IDENTITY_SCHEMA):  # signing in instead of up (or back) keeps to the schema
        for other in ("login", "registration"):
            ui_url[other] = _with_query(ui_url[other], {IDENTITY_SCHEMA: schema})
    links: list[Link] = []
    if kind == "login":
        if c.config.flows["registration"].enabled:
            links.append(("Create an account", ui_url["registration"]))
        if c.config.flows["recovery"].enabled:
            links.append(("Forgot password?", ui_url["recovery"]))
    if kind in ("registration", "recovery"):
        links.append(("Sign in", ui_url["login"]))
    if kind == "verification" and await c.engine.current_session(request) is None:
        links.append(("Sign in", ui_url["login"]))  # e.g. a mailed link opened in another browser
    if kind in ("settings", "verification"):
        links.append(("Back", flow.get("return_to") or c.config.default_return_url))
    if kind == "settings" or (kind == "login" and (flow.get("refresh") or flow.get("requested_aal") == "aal2")):
        if (url := await logout_url(c, request)) is not None:
            links.append(("Log out", url))
    return links


def _with_return_to(url: str, return_to: str | None) -> str:
    return _with_query(url, {"return_to": return_to}) if return_to else url


def _with_query(url: str, params: Mapping[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


async def error_page(c: SelfserviceContainer, request: web.Request) -> web.StreamResponse:
    """Shows a stored self-service error, as `GET /self-service/errors?id=` returns it."""
    error_id = request.query.get("id", "")
    found: dict[str, Any] | None = (
        {"id": error_id, "error": STUB} if error_id == "stub:500" else await _stored_error(c, error_id)
    )
    links = [("Back", c.config.default_return_url), ("Sign in", c.config.flows["login"].ui_url)]
    if found is None:
        return c.pages.render("error.html", status=404, title="Error not found", error=None, hint="", links=links)
    error: dict[str, Any] = found["error"]
    hint = HINTS.get(str(error.get("id") or "")) or HINTS_BY_STATUS.get(int(error.get("code") or 0), GENERIC_HINT)
    return c.pages.render("error.html", title="Something went wrong", error=error, hint=hint, links=links)


# What a person can do about an error, beside its message (which says what happened).
GENERIC_HINT = "Go back and try again. If it keeps happening, tell the site's support the reference below."
HINTS = {
    "security_csrf_violation": "This happens when a page was left open for a long time, opened in another "
    "browser, or when cookies are blocked. Go back and try again.",
    "self_service_flow_expired": "The page was open for too long. Go back and start again.",
    "browser_location_change_required": "Go back and try again.",
}
HINTS_BY_STATUS = {
    404: "The link may be old or used already. Start again from the sign-in page.",
    410: "The page was open for too long. Go back and start again.",
}


async def _stored_error(c: SelfserviceContainer, error_id: str) -> dict[str, Any] | None:
    if not error_id:
        return None
    async with c.uow() as uow:
        found: dict[str, Any] | None = await c.flows.get_error(uow.connection, error_id)
    return found


async def to_sign_in(c: SelfserviceContainer, _request: web.Request) -> web.StreamResponse:
    """The root URL and `/ui/` are where a newcomer types first: the sign-in page, not a JSON 404."""
    raise web.HTTPSeeOther(c.config.flows["login"].ui_url)


async def stylesheet(c: SelfserviceContainer, _request: web.Request) -> web.StreamResponse:
    return static_response(c.pages.stylesheet, "text/css")


async def not_found(c: SelfserviceContainer, request: web.Request) -> web.StreamResponse:
    """A mistyped address under `/ui/` is a person's mistake: the UI's own page, with a way back.
    So is a form sent to one of its pages, which only open (405, not the API's JSON): forms go to
    `/self-service/…`. (Paths outside `/ui/` are the API's, and keep Kratos's JSON 404.)"""
    depth = request.path.count("/") - 2  # the stylesheet is linked relatively: /ui/a/b needs ../
    links = [("Go to the welcome page", f"{c.config.public_base_url.rstrip('/')}{WELCOME_PATH}")]
    links.append(("Sign in", c.config.flows["login"].ui_url))
    page = {"stylesheet": f"{'../' * depth}style.css", "links": links}
    if request.method in ("GET", "HEAD") or request.path not in UI_PAGES:
        return c.pages.render("not_found.html", status=404, title="Page not found", form_sent=False, **page)
    response = c.pages.render("not_found.html", status=405, title="This page takes no form", form_sent=True, **page)
    response.headers["Allow"] = "GET, HEAD"
    return response


PAGES: list[Route[SelfserviceContainer]] = [
    *(Route("public", "GET", f"/ui/{kind}", flow_page(kind)) for kind in FLOW_KINDS),
    Route("public", "GET", WELCOME_PATH, welcome),
    *(Route("public", "GET", path, to_sign_in) for path in ("/", "/ui", "/ui/")),
]
# The error page renders errors itself: sending its own failures to the error UI would loop.
ROUTES: list[Route[SelfserviceContainer]] = [
    *map(with_browser_errors, PAGES),
    Route("public", "GET", ERROR_PATH, error_page),
    Route("public", "GET", STYLESHEET_PATH, stylesheet),
    # Any method: the router tries it after every literal path, and after a page asked with another
    # method than its own.
    Route("public", "*", NOT_FOUND_PATH, not_found),
]
# The UI's own addresses (a form sent to one gets a 405 page, to any other under /ui/ a 404 page).
UI_PAGES = frozenset(route.path for route in ROUTES if route.path.startswith("/ui") and "{" not in route.path)
