"""Reading JSON request bodies, with Kratos's 400 for anything that is not JSON."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from shared import json_codec
from shared.errors import BadRequest


async def read_json(request: web.Request) -> Any:
    return parse_json(await request.read())


def parse_json(raw: bytes) -> Any:
    """JSON from a body; 400 for anything that is not JSON, is nested absurdly deep, or carries NUL
    characters (PostgreSQL cannot store them, and no identifier or trait needs one) or lone
    surrogates (`"\\ud800"` decodes to a str that cannot be encoded as UTF-8, so every later
    encode, hash or insert would fail).

    Read by orjson where it reads what the standard library would (`json_codec.loads_standard`:
    every internal call and flow submission is a body), NaN and Infinity refused; the error message
    is the standard library's."""
    try:
        value = json_codec.loads_standard(raw or b"null")
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"The request body is not valid JSON: {str(exc)[:200]}") from exc
    # Only escapes decode to these (raw bytes of either are invalid JSON), so most bodies skip the walk.
    if b"\\u" in raw and (problem := _unstorable(value)):
        raise BadRequest(f"The request body contains {problem}.")
    return value


def unstorable_text(text: str) -> str | None:
    """Why `text` cannot be stored, or None: a NUL character or a lone surrogate."""
    if "\x00" in text:
        return "a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a lone surrogate, which is not a Unicode character"
    return None


def _unstorable(value: Any) -> str | None:
    if isinstance(value, str):
        return unstorable_text(value)
    if isinstance(value, dict):
        return next(filter(None, (_unstorable(k) or _unstorable(v) for k, v in value.items())), None)
    if isinstance(value, list):
        return next(filter(None, map(_unstorable, value)), None)
    return None


async def read_object(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    return body
