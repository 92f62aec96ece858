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
    if b"\x00" in raw:  # UTF-16 or UTF-32, which the standard library would read (RFC 8259: UTF-8 only)
        raise BadRequest("The request body is not valid JSON: it is not UTF-8")
    try:
        value = json_codec.loads_standard(raw or b"null")
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"The request body is not valid JSON: {str(exc)[:200]}") from exc
    # In an ASCII body only escapes decode to these, so most bodies skip the walk; other bytes may be
    # a surrogate written out, which the standard library's reader takes.
    if (b"\\u" in raw or not raw.isascii()) and (problem := _unstorable(value)):
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
    """The first string in `value` that cannot be stored, and why; a loop, not a recursion, since
    a body may nest as deep as its reader allows."""
    waiting = [value]
    while waiting:
        item = waiting.pop()
        if isinstance(item, str):
            if problem := unstorable_text(item):
                return problem
        elif isinstance(item, dict):
            waiting.extend(item.keys())
            waiting.extend(item.values())
        elif isinstance(item, list):
            waiting.extend(item)
    return None


async def read_object(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    return body
