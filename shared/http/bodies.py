"""Reading JSON request bodies, with Kratos's 400 for anything that is not JSON."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from shared.errors import BadRequest


async def read_json(request: web.Request) -> Any:
    return parse_json(await request.read())


def parse_json(raw: bytes) -> Any:
    """JSON from a body; 400 for anything that is not JSON, is nested absurdly deep, or carries NUL
    characters (PostgreSQL cannot store them, and no identifier or trait needs one)."""
    try:
        value = json.loads(raw or b"null")
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"The request body is not valid JSON: {str(exc)[:200]}") from exc
    if b"\\u0000" in raw and _has_nul(value):  # a raw NUL is already invalid JSON; only "\u0000" decodes to one
        raise BadRequest("The request body contains a NUL character.")
    return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


async def read_object(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    return body
