"""JSON on the hot paths, encoded and decoded with orjson.

The standard library's encoder and decoder took about 5% of the event loop of the selfservice and
session services under login load (flows stored and answered, internal calls between services).
orjson does the same work several times faster. What it refuses, the standard library still takes:
an integer past 64 bits or a dict with keys that are not strings (on the way out), NaN or Infinity
(on the way in, from a record written before). Request bodies from clients keep their own parser
(`shared.http.bodies`), whose errors are part of the API.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from aiohttp import web


def dumps_bytes(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":")).encode()


def dumps(value: Any) -> str:
    return dumps_bytes(value).decode()


def loads(raw: str | bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def json_response(value: Any, *, status: int = 200) -> web.Response:
    """What `web.json_response` answers (application/json; charset=utf-8), encoded by orjson."""
    return web.Response(body=dumps_bytes(value), status=status, content_type="application/json", charset="utf-8")
