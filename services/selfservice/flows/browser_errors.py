"""Browsers that cannot be shown JSON go to the error UI instead (Kratos's `errorx` manager): the
error is stored and the browser is sent to `selfservice.flows.error.ui_url?id=<error id>`, where the
UI fetches it from `GET /self-service/errors`."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from aiohttp import web

from services.selfservice.flows.engine import see_other
from services.selfservice.flows.request import wants_json
from shared.errors import WardenError
from shared.http.middleware import error_response
from shared.service import Route

if TYPE_CHECKING:
    from services.selfservice.service import SelfserviceContainer


def with_browser_errors(route: Route[SelfserviceContainer]) -> Route[SelfserviceContainer]:
    handle = route.handler

    async def handler(c: SelfserviceContainer, request: web.Request) -> web.StreamResponse:
        try:
            return await handle(c, request)
        except WardenError as error:
            # Fetching a flow (`…/flows`) is an API call for the UI, which always wants the JSON error.
            if wants_json(request) or request.path.endswith(("/api", "/flows")):
                raise
            return await _to_error_ui(c, error)

    return Route(route.port, route.method, route.path, handler)


async def error_answer(c: SelfserviceContainer, request: web.Request, error: WardenError) -> web.Response:
    """The answer the wrapper gives, as a response a handler can still add cookies to (Kratos's
    `Forward` writes on a response whose cookies were already set: a logout refused after it ended
    the session still drops the cookie)."""
    if wants_json(request):
        return error_response(error, request)
    return await _to_error_ui(c, error)


async def _to_error_ui(c: SelfserviceContainer, error: WardenError) -> web.Response:
    if redirect := error.siblings.get("redirect_browser_to"):
        return see_other(redirect)  # e.g. a settings change that needs a fresh sign-in
    async with c.uow() as uow:
        error_id = await c.flows.add_error(uow.connection, error.to_json()["error"])
        await uow.commit()
    return see_other(f"{c.config.error_ui_url}?{urlencode({'id': error_id})}")
