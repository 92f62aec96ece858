"""The session public API: whoami and the caller's own sessions."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from services.session.errors import Aal2Required, CannotRevokeCurrent, NoActiveSession, SessionNotFound, path_uuid
from services.session.views import public_identity, session_view
from shared.cookies import SignedCookie, session_cookie, session_token, set_session_cookie
from shared.http.pagination import link_header, read_page
from shared.service import Route

if TYPE_CHECKING:
    from services.session.service import SessionContainer

WHOAMI = "/sessions/whoami"
CHECK = "/sessions/check"
MY_SESSIONS = "/sessions"
MY_SESSION = "/sessions/{id}"


async def whoami(c: SessionContainer, request: web.Request) -> web.Response:
    # The cookie is opened once: its token, when it is the credential, and the expiry it carries.
    cookie = None if "X-Session-Token" in request.headers else session_cookie(request, c.config.cookie, c.cookie_signer)
    token = cookie.token if cookie is not None else session_token(request, c.config.cookie, c.cookie_signer)
    if token is None:
        raise NoActiveSession()
    entry = await c.manager.whoami(token)
    body = entry.body
    if template := request.query.get("tokenize_as"):
        session = json.loads(body)
        session["tokenized"] = await c.tokenizer.tokenize(template, session)
        body = json.dumps(session).encode()
    response = web.Response(
        body=body,
        content_type="application/json",
        charset="utf-8",
        headers={"X-Kratos-Authenticated-Identity-Id": entry.identity_id},  # Cache-Control: the kernel's no-store
    )
    if cookie is not None:
        _refresh_cookie(c, response, cookie, entry.expires_at)
    return response


def _refresh_cookie(c: SessionContainer, response: web.Response, cookie: SignedCookie, expires_at: float) -> None:
    """Sets the session cookie again when the session now ends later than the cookie does (it was
    extended since), so that the browser keeps it as long as the session lasts (Kratos's
    `RefreshCookie`). Only for the cookie the request authenticated by; not for a cookie of before
    the expiry was signed, which carries none to compare: rewriting every such cookie in the new
    format would sign their browsers out of any process of before, a rollback included."""
    if c.cookie_signer is None or not c.config.cookie.persistent:
        return
    if cookie.expires_at is not None and cookie.expires_at < int(expires_at):
        set_session_cookie(response, cookie.token, expires_at, c.config.cookie, c.cookie_signer)


async def check(c: SessionContainer, request: web.Request) -> web.Response:
    """Forward-auth for gateways: headers only, no body. nginx's `auth_request` and Traefik's
    `forwardAuth` send the original request's `Cookie` and `Authorization` along; 401 lets the gateway
    answer or redirect, 403 means the session needs `aal2` (`?aal=aal2`, or whoami's own rule)."""
    token = session_token(request, c.config.cookie, c.cookie_signer)
    try:
        checked = await c.checker.check(token, require_aal2=request.query.get("aal") == "aal2")
    except NoActiveSession:
        return web.Response(status=401, headers=_NO_STORE)
    except Aal2Required:
        return web.Response(status=403, headers=_NO_STORE)
    return web.Response(status=200, headers=[*checked.present_headers(), *_NO_STORE.items()])


_NO_STORE = {"Cache-Control": "private, no-store"}


async def _current(c: SessionContainer, request: web.Request) -> Any:
    return (await _current_and_identity(c, request))[0]


async def _current_and_identity(c: SessionContainer, request: web.Request) -> tuple[Any, dict[str, Any]]:
    token = session_token(request, c.config.cookie, c.cookie_signer)
    if token is None:
        raise NoActiveSession()
    session = await c.manager.authenticate(token)
    identity = await c.manager.identity_of(session)
    if identity is None or identity.get("state") != "active":  # Kratos's IsActive: the identity's too
        raise NoActiveSession()
    c.manager.require_whoami_aal(session, identity)
    return session, identity


async def list_mine(c: SessionContainer, request: web.Request) -> web.Response:
    current, identity = await _current_and_identity(c, request)
    page = read_page(request, c.page_tokens)
    others, last = page.split(
        await c.manager.page(
            size=page.probe, after=page.after, identity_id=current.identity_id, active=True, exclude_id=current.id
        )
    )
    # Kratos lists them with ExpandEverything: each with its devices and (the caller's own) identity.
    mine = public_identity(identity)
    response = web.json_response([session_view(s, mine) for s in others])
    response.headers["Link"] = link_header(request, page, last.id if last else None, c.page_tokens)
    return response


async def revoke_others(c: SessionContainer, request: web.Request) -> web.Response:
    return web.json_response({"count": await c.manager.revoke_others(await _current(c, request))})


async def revoke_mine(c: SessionContainer, request: web.Request) -> web.Response:
    if request.match_info["id"] == "whoami":
        return await whoami(c, request)  # Kratos's deleteMySession answers whoami for this id
    current = await _current(c, request)
    target_id = path_uuid(request.match_info["id"])
    if target_id == current.id:
        raise CannotRevokeCurrent()
    try:
        target = await c.manager.get(target_id)
    except SessionNotFound:
        target = None
    if target is None or target.identity_id != current.identity_id:
        raise SessionNotFound()  # someone else's session is as good as unknown
    await c.manager.revoke([target])
    return web.Response(status=204)


ROUTES: list[Route[SessionContainer]] = [
    Route("public", "GET", WHOAMI, whoami),
    Route("public", "POST", WHOAMI, whoami),
    Route("public", "GET", CHECK, check),
    Route("public", "HEAD", WHOAMI, whoami),  # Kratos answers whoami on any method; HEAD for cheap checks
    Route("public", "GET", MY_SESSIONS, list_mine),
    Route("public", "DELETE", MY_SESSIONS, revoke_others),
    Route("public", "DELETE", MY_SESSION, revoke_mine),
]
