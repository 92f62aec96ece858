"""`web_hook`: calls a third party with a Jsonnet body (Kratos's `selfservice/hook/web_hook.go`).

How it runs follows from its config:
- interrupting (`response.parse: true` or `can_interrupt: true`): called synchronously *before* the
  flow's effect (the identity is created, the session issued). Its answer may stop the flow with
  field messages or, under `response.parse`, change the identity before it is saved (see
  web_hook_answer.py). A refused, slow or garbled call fails the flow with Kratos's 502/504.
- plain: called synchronously after the effect, within `webhooks.timeout` (which also bounds the
  fetch of a remote body template: one budget for both). Its answer does not matter
  to the flow, so a failed call does not fail it: it is logged and handed to reliable delivery.
- fire-and-forget (`response.ignore: true`): not called here at all. The call goes into the
  outbox in the same transaction as the flow's final state, and the courier delivers it at least
  once (services/courier/webhooks/). Kratos sends these from a goroutine and loses them on restart.

The body template receives Kratos's `ctx`: `flow` (with the submitted `transient_payload`, which
is never stored), `identity`, `session` when there is one, `request_headers` (only those in
`clients.web_hook.header_allowlist`, shaped as Go's `http.Header`: canonical name to a list of
values), `request_method` and `request_url` (on the public base URL). `request_cookies` is always
empty: the user's session and CSRF cookies are not a third party's business.
A template that raises `error "cancel"` skips the call, as in Kratos."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import aiohttp
from aiohttp import web

from services.selfservice.flows.request import request_url
from services.selfservice.hooks.registry import Hook, HookContext
from services.selfservice.hooks.web_hook_answer import WebHookFailed, WebHookTimedOut, apply_answer
from services.selfservice.hooks.web_hook_calls import WebHooks, WebHookSpec
from shared.bus.events import WebhookRequested
from shared.jsonnet import JsonnetError

log = logging.getLogger(__name__)
CANCEL = "RUNTIME ERROR: cancel"  # `error "cancel"` in the template, as go-jsonnet reports it


def web_hook(deps: Any, config: dict[str, Any]) -> Hook:
    hooks: WebHooks = deps.web_hooks
    spec = hooks.spec_for(config)
    base_url: str = deps.config.public_base_url

    async def run(ctx: HookContext) -> None:
        deadline = hooks.deadline()  # the template's fetch and the call share `webhooks.timeout`
        try:
            document = await hooks.render(spec, template_context(ctx, hooks, base_url), deadline)
        except JsonnetError as exc:
            if str(exc).split("\n", 1)[0] == CANCEL:
                return  # the template chose not to call
            return _failed(spec, f"the body template failed: {exc}")
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:  # a remote template that cannot be fetched
            return _failed(spec, f"the body template could not be fetched: {_fetch_failure(exc)}")
        if spec.ignore:
            ctx.deliveries.append(
                WebhookRequested(config_key=spec.key, url=spec.url, method=spec.method, body=document)
            )
            return
        # A plain hook's call may be made again by the courier: the receiver, which may have acted on
        # a call that timed out or failed, knows the retry by the key both carry.
        key = None if spec.interrupts else str(uuid.uuid4())
        try:
            answer = await hooks.call(spec, document, deadline, key)
        except TimeoutError:
            if spec.interrupts:
                raise WebHookTimedOut() from None
            return _retry(spec, document, ctx, "timed out", key)
        except (aiohttp.ClientError, OSError) as exc:
            if spec.interrupts:
                raise WebHookFailed(f"web hook call failed: {type(exc).__name__}") from None
            return _retry(spec, document, ctx, repr(exc), key)
        if spec.interrupts:
            apply_answer(answer, ctx.flow, ctx.identity, parse=spec.parse)
        elif answer.status >= 400:
            _retry(spec, document, ctx, f"answered {answer.status}", key)

    return Hook("web_hook", "pre" if spec.interrupts else "post", run)


def template_context(ctx: HookContext, hooks: WebHooks, public_base_url: str) -> dict[str, Any]:
    request = ctx.request
    flow = ctx.flow.to_json()
    if ctx.flow.transient_payload is not None:
        flow["transient_payload"] = ctx.flow.transient_payload
    body: dict[str, Any] = {
        "flow": flow,
        "identity": _as_kratos_shows(ctx.identity),
        "request_headers": _allowed_headers(request, hooks.header_allowlist),
        "request_method": request.method,
        # Behind a proxy `request.url` is the internal address; Kratos rebuilds the client's URL.
        "request_url": request_url(request, public_base_url),
        "request_cookies": {},
    }
    if ctx.session is not None:
        body["session"] = ctx.session
    return body


def _as_kratos_shows(identity: dict[str, Any] | None) -> dict[str, Any] | None:
    """Without the `usable` mark the identity service adds to each credential for self-service
    (services/identity/internal.py): it is not part of Kratos's identity, and a receiver need not
    learn it."""
    credentials = identity.get("credentials") if identity is not None else None
    if identity is None or not isinstance(credentials, dict):
        return identity
    shown = {
        k: {n: v for n, v in c.items() if n != "usable"} if isinstance(c, dict) else c for k, c in credentials.items()
    }
    return {**identity, "credentials": shown}


def _allowed_headers(request: web.Request, allowlist: frozenset[str]) -> dict[str, list[str]]:
    """Go's `http.Header` as Kratos marshals it: canonical names (`User-Agent`, however the client
    spelled it), each with the list of its values, so `ctx.request_headers['User-Agent'][0]` works."""
    found: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        if name.lower() in allowlist:
            found.setdefault(_canonical_name(name), []).append(value)
    return found


def _canonical_name(name: str) -> str:
    """Go's `textproto.CanonicalMIMEHeaderKey`: `accept-language` -> `Accept-Language`."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _fetch_failure(exc: BaseException) -> str:
    """Why a template fetch failed, without its URL: an `api_key` in the query string (and, in a
    `ClientResponseError`'s repr, the request's headers) must not reach the logs."""
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"the template host answered {exc.status}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if isinstance(exc, aiohttp.ClientConnectorError) else type(exc).__name__


def _failed(spec: WebHookSpec, reason: str) -> None:
    """Nothing to send: an interrupting hook fails the flow, any other is skipped (and logged)."""
    log.error("web hook %s: %s", spec.name, reason)
    if spec.interrupts:
        raise WebHookFailed("web hook call failed")


def _retry(spec: WebHookSpec, document: str | None, ctx: HookContext, reason: str, key: str | None) -> None:
    """A plain hook whose call failed: delivered later, with the flow's commit, like a fire-and-forget
    one, under the `Idempotency-Key` its first call carried."""
    log.warning("web hook %s %s; it will be delivered in the background", spec.name, reason)
    ctx.deliveries.append(
        WebhookRequested(config_key=spec.key, url=spec.url, method=spec.method, body=document, idempotency_key=key)
    )
