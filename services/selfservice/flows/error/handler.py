"""`GET /self-service/errors?id=`: errors a browser was sent to the error UI with."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from aiohttp import web

from shared import errors
from shared.service import Route

if TYPE_CHECKING:
    from services.selfservice.service import SelfserviceContainer

STUB = {
    "code": 500,
    "status": "Internal Server Error",
    "reason": "This is a stub error.",
    "message": "An internal server error occurred, please contact the system administrator",
}


async def get_error(c: SelfserviceContainer, request: web.Request) -> web.Response:
    error_id = request.query.get("id", "")
    if error_id == "stub:500":
        return web.json_response({"id": str(uuid.uuid4()), "error": STUB})  # Kratos: a fresh id each time
    async with c.uow() as uow:
        found = await c.flows.get_error(uow.connection, error_id)
    if found is None:
        raise errors.NotFound("", message="Unable to locate the resource")
    return web.json_response(found)


ROUTES: list[Route[SelfserviceContainer]] = [
    Route("public", "GET", "/self-service/errors", get_error),
    Route("admin", "GET", "/self-service/errors", get_error),
]
