"""`GET /.well-known/ory/webauthn.js` (written here, with Kratos's globals) and the `script` node that
flows offering passkeys or security keys carry, with the file's subresource integrity hash."""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from pathlib import Path

from aiohttp import web

from services.selfservice.flows.ui import Container, Node
from shared.service import Route

PATH = "/.well-known/ory/webauthn.js"


@cache
def _source() -> bytes:
    return (Path(__file__).parent / "webauthn.js").read_bytes()


def integrity() -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(_source()).digest()).decode()


def script_node(src: str) -> Node:
    """Kratos's NewWebAuthnScript: in the `webauthn` group whichever method (passkey too) adds it."""
    return Node(
        "webauthn",
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


def upsert_script(ui: Container, src: str) -> None:
    """One script node per form (Kratos upserts it by its id), wherever the first method put it."""
    node = script_node(src)
    at = next((i for i, n in enumerate(ui.nodes) if n.attributes.get("id") == node.attributes["id"]), None)
    if at is None:
        ui.add(node)
    else:
        ui.nodes[at] = node


def call(trigger: str, options: str = "") -> str:
    """The deprecated `onclick` / `onload` text Kratos still sends beside the trigger's name
    (`js.WebAuthnTriggers.String()`): the script defines each trigger as a window global."""
    return f"window.{trigger}({options})"


async def serve(_c: object, _request: web.Request) -> web.Response:
    """The same file for every service container: it needs none of it."""
    return web.Response(
        body=_source(),
        content_type="text/javascript",
        headers={"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"},
    )


ROUTE = Route("public", "GET", PATH, serve)
