"""Finishing an API flow in a browser (Kratos's `session/token_exchanger.go`), as native social
sign-in does: an app starts an API flow with
`return_session_token_exchange_code=true` and a `return_to` it can open (a custom scheme), opens
the provider in the system browser, and the flow finishes there. The session token must not be
shown to that browser; it is kept, encrypted, on the flow the app started, and the browser goes to
`return_to?code=<return_to_code>`. The app proves it holds both halves, the `init_code` it got when
it created the flow and the `return_to_code` its URL received, at `GET /sessions/token-exchange`,
once. Both codes are stored only as SHA-256 hashes, and the token encrypted with `secrets.cipher`
when one is configured.

The `init_code` names its flow (`<kind>.<flow id>.<secret>`) so the exchange needs no table of its
own: the flows table already expires and cleans up what is never fetched.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

from aiohttp import web

from services.selfservice.flows.errors import FlowNotFound
from services.selfservice.flows.flow import API, Flow
from services.selfservice.hooks.registry import HookContext
from shared import errors
from shared.cipher import cipher_from_settings
from shared.json_codec import json_response

if TYPE_CHECKING:
    from services.selfservice.service import SelfserviceContainer

KEY = "token_exchange"
PATH = "/sessions/token-exchange"
_KINDS = ("login", "registration")


def _random() -> str:
    return secrets.token_urlsafe(32)


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def start(flow: Flow, request: web.Request) -> str | None:
    """At API flow creation: the app's half of the exchange, when it asked for one."""
    if flow.type != API or flow.kind not in _KINDS or request.query.get("return_session_token_exchange_code") != "true":
        return None
    secret = _random()
    flow.internal[KEY] = {"flow": [flow.kind, flow.id], "init": _hash(secret)}
    return f"{flow.kind}.{flow.id}.{secret}"


def delivers(flow: Flow) -> bool:
    """Whether `keep_for_app` can hand this flow's session to its app."""
    return bool(flow.internal.get(KEY)) and bool(flow.return_to)


async def keep_for_app(c: SelfserviceContainer, flow: Flow, ctx: HookContext) -> web.StreamResponse:
    """The API flow finished in a browser: keep the session for the app, send the browser on."""
    record = flow.internal.get(KEY)
    return_to = flow.return_to
    if not record or not return_to or not ctx.session_token:
        raise errors.BadRequest(
            "A native social sign-in needs return_session_token_exchange_code=true and a return_to URL.",
            message="The flow was started without a way back to the app.",
        )
    return_to_code = _random()
    kind, flow_id = record["flow"]
    origin = flow if flow.id == flow_id else await c.engine.load(flow_id, kind)
    origin.internal[KEY] = {
        **record,
        "return_to": _hash(return_to_code),
        "session_token": cipher_from_settings(c.settings).encrypt(ctx.session_token),
        "session": ctx.session,
    }
    await c.engine.save(origin)
    if origin is not flow:
        await c.engine.save(flow)
    joiner = "&" if "?" in return_to else "?"
    return web.Response(status=303, headers={"Location": f"{return_to}{joiner}code={return_to_code}"})


async def token_exchange(c: SelfserviceContainer, request: web.Request) -> web.Response:
    init_code = request.query.get("init_code", "")
    return_to_code = request.query.get("return_to_code", "")
    if not init_code or not return_to_code:
        raise errors.BadRequest("init_code and return_to_code are required.")
    kind, _, rest = init_code.partition(".")
    flow_id, _, secret = rest.partition(".")
    if kind not in _KINDS or not flow_id or not secret:
        raise errors.NotFound("No session was found for this exchange code.")
    try:
        flow = await c.engine.load(flow_id, kind)
    except FlowNotFound:
        raise errors.NotFound("No session was found for this exchange code.") from None
    record = flow.internal.get(KEY) or {}
    init_ok = hmac.compare_digest(str(record.get("init", "")), _hash(secret))
    return_ok = hmac.compare_digest(str(record.get("return_to", "")), _hash(return_to_code))
    if not (init_ok and return_ok) or "session_token" not in record:
        raise errors.NotFound("No session was found for this exchange code.")
    if not await c.engine.spend(flow, KEY, record):  # once, even for exchanges sent at the same moment
        raise errors.NotFound("No session was found for this exchange code.")
    token = cipher_from_settings(c.settings).decrypt(record["session_token"])
    return json_response({"session": record["session"], "session_token": token})
