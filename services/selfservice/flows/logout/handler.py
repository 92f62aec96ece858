"""Logout (Kratos's `selfservice/flow/logout/handler.go`): a logout URL for browsers, bound to the
session by a token derived from it, and a token-based logout for native apps."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlencode

from aiohttp import web

from services.selfservice.flows.browser_errors import error_answer
from services.selfservice.flows.engine import see_other
from services.selfservice.flows.errors import NoActiveSession, ReturnToForbidden, shown_input
from services.selfservice.flows.request import read_body, wants_json
from shared import errors
from shared.cookies import session_token
from shared.service import Route

if TYPE_CHECKING:
    from services.selfservice.service import SelfserviceContainer

TOKEN_PREFIX = "ory_lo_"
AnyResponse = TypeVar("AnyResponse", bound=web.StreamResponse)


def logout_token(secret: str, session_id: str) -> str:
    """Derived, not stored: only the server can mint it, and it names one session."""
    digest = hmac.new(secret.encode(), f"logout:{session_id}".encode(), hashlib.sha256).digest()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _secret(c: SelfserviceContainer) -> str:
    keys = c.settings.secrets.cookie or c.settings.secrets.default
    if not keys:
        raise errors.ServiceUnavailable("browser logout needs secrets.cookie (or secrets.default) in the config")
    return str(keys[0])


async def create_browser_logout(c: SelfserviceContainer, request: web.Request) -> web.Response:
    session = await c.engine.current_session(request)
    if session is None:
        raise NoActiveSession()  # Kratos's ErrNoActiveSessionFound: 401 session_inactive
    token = logout_token(_secret(c), session["id"])
    query = {"token": token}
    if return_to := c.engine.return_to(request):
        query["return_to"] = return_to
    url = f"{c.config.public_base_url.rstrip('/')}/self-service/logout?{urlencode(query)}"
    return web.json_response({"logout_url": url, "logout_token": token})


SIGNED_OUT_COOKIE = "warden_signed_out"
CLEAR_SITE_DATA = '"cache", "cookies", "storage"'


async def browser_logout(c: SelfserviceContainer, request: web.Request) -> web.StreamResponse:
    """Kratos's `updateLogoutFlow`: the token, then the session it names. Without a session the
    answer is Kratos's 401 `session_inactive` (the error UI for a browser), not a success: a 204 or
    a redirect would tell the client that a session was ended when none was."""
    presented = request.query.get("token")
    if not presented:
        raise errors.BadRequest("Please include a token in the URL query.")
    session = await c.engine.current_session(request)
    if session is None:
        raise NoActiveSession()
    expected = logout_token(_secret(c), session["id"])
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise errors.Forbidden(
            "Unable to log out because the logout token in the URL query does not match the session cookie."
        )
    # Kratos ends the session before it looks at return_to: a forbidden one still signs the browser
    # out, and the error it then shows goes with the cleared cookie.
    await c.engine.sessions.revoke_session(session_token(request, c.engine.cookie, c.engine.signer) or "")
    try:
        return_to = c.engine.return_to(request) or c.config.logout_return_url or c.config.default_return_url
    except ReturnToForbidden as error:
        return _signed_out(c, _cleared(c, await error_answer(c, request, error)))
    if wants_json(request):
        return _signed_out(c, _cleared(c, web.Response(status=204)))
    response = _cleared(c, see_other(return_to))
    # Tells the built-in UI's next page to say so (its path only, a minute, no secret in it).
    response.set_cookie(SIGNED_OUT_COOKIE, "1", max_age=60, path="/ui/", httponly=True, samesite="Lax")
    return _signed_out(c, response)


def _signed_out(c: SelfserviceContainer, response: AnyResponse) -> AnyResponse:
    """No session cookie, and a new CSRF token (Kratos's `completeLogout` regenerates it, as a sign-in
    does): a form opened while signed in is not accepted from whoever uses the browser next."""
    c.engine.without_session_cookie(response)
    c.engine.csrf.set_cookie(response, c.engine.csrf.new_token())
    return response


def _cleared(c: SelfserviceContainer, response: AnyResponse) -> AnyResponse:
    """`selfservice.flows.logout.clear_browser_data`: the browser drops the origin's cookies, storage
    and caches. Off by default, as in Kratos: other applications on the origin may keep data there.
    Browsers act on the header over HTTPS only, so it is harmless on a plain-HTTP laptop."""
    if c.settings.get("selfservice.flows.logout.clear_browser_data"):
        response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response


async def api_logout(c: SelfserviceContainer, request: web.Request) -> web.Response:
    """Kratos's `performNativeLogout`: a JSON body (anything else is 400, as its decoder says), and
    a token of no session, an empty or a missing one alike, is 403; one of an ended session is 204."""
    if not request.can_read_body:
        raise errors.BadRequest('Unable to decode HTTP Request Body because its HTTP Header "Content-Length" is zero.')
    if request.content_type != "application/json":
        raise errors.BadRequest(
            f'HTTP DELETE Request used unknown HTTP Header "Content-Type: {shown_input(request.content_type)}", '
            "only [application/json] are supported."
        )
    token = (await read_body(request)).get("session_token")
    if token is None:
        token = ""  # decoded into Kratos's string field, JSON's null is the empty token
    if not isinstance(token, str):
        raise errors.BadRequest("The session_token must be a string.")
    if not token or await c.engine.sessions.revoke_session(token) is None:
        raise errors.Forbidden("The provided Ory Session Token could not be found, is invalid, or otherwise malformed.")
    return web.Response(status=204)


ROUTES: list[Route[SelfserviceContainer]] = [
    Route("public", "GET", "/self-service/logout/browser", create_browser_logout),
    Route("public", "GET", "/self-service/logout", browser_logout),
    Route("public", "DELETE", "/self-service/logout/api", api_logout),
]
