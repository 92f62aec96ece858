"""Reading JSON request bodies, with Kratos's 400 for anything that is not JSON."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from shared.errors import BadRequest


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from exc


async def read_object(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    return body
