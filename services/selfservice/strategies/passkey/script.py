"""`GET /.well-known/ory/webauthn.js` (written here, with Kratos's globals) and the `script` node that
flows offering passkeys or security keys carry, with the file's subresource integrity hash."""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from pathlib import Path

from aiohttp import web

from services.selfservice.flows.ui import Node
from shared.service import Route

PATH = "/.well-known/ory/webauthn.js"


@cache
def _source() -> bytes:
    return (Path(__file__).parent / "webauthn.js").read_bytes()


def integrity() -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(_source()).digest()).decode()


def script_node(group: str, src: str) -> Node:
    return Node(
        group,
        {
            "id": "webauthn_script",
            "src": src,
            "async": True,
            "referrerpolicy": "no-referrer",
            "crossorigin": "anonymous",
            "integrity": integrity(),
            "type": "text/javascript",
            "nonce": "",
        },
        "script",
    )


async def serve(_c: object, _request: web.Request) -> web.Response:
    """The same file for every service container: it needs none of it."""
    return web.Response(
        body=_source(),
        content_type="text/javascript",
        headers={"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"},
    )


ROUTE = Route("public", "GET", PATH, serve)
