"""The internal-HTTP adapter every service client shares: keep-alive, timeouts, the internal token,
retries only where repeating a call cannot do harm, and the server's typed errors raised again here."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from typing import Any

import aiohttp

from shared import errors, json_codec
from shared.http.budget import DEADLINE_HEADER, budget

log = logging.getLogger(__name__)

INTERNAL_TOKEN_HEADER = "X-Warden-Internal-Token"
# The error id of the internal API's refusal of a token (shared.http.middleware.internal_guard).
INTERNAL_TOKEN_REFUSED = "warden_internal_token_refused"
UNANSWERED = "another Warden service this request needs did not answer"
_IDEMPOTENT = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}
_RETRY_STATUSES = {502, 503, 504}
_UPSTREAM = {502, 504}  # a third party's failure, when Warden's own JSON says so (`_upstream_error`)
_BY_STATUS: dict[int, type[errors.WardenError]] = {
    cls.code: cls
    for cls in (errors.BadRequest, errors.Unauthorized, errors.Forbidden, errors.NotFound, errors.Conflict)
}


# Concurrent calls one client keeps connections open for: a caller beyond it waits for a free one
# rather than opening (and then closing) yet another TCP connection.
POOL_SIZE = 64
KEEPALIVE_SECONDS = 60.0


def internal_session(pool_size: int = POOL_SIZE, trust: ssl.SSLContext | None = None) -> aiohttp.ClientSession:
    """The HTTP session of one service client: its own pool of keep-alive connections to the one
    service it calls (so a busy client does not starve another), and compact JSON bodies. No cookie
    jar: the calls are made for many users, and a cookie one answer set must never ride on another's.
    `trust`: what an `https://` service's certificate is verified against (default: the system's CAs)."""
    connector = aiohttp.TCPConnector(
        limit=pool_size,
        limit_per_host=pool_size,
        keepalive_timeout=KEEPALIVE_SECONDS,
        ssl=trust if trust is not None else True,
    )
    return aiohttp.ClientSession(
        connector=connector, json_serialize=json_codec.dumps, cookie_jar=aiohttp.DummyCookieJar()
    )


class InternalHttp:
    def __init__(
        self,
        base_url: str,
        token: str,
        session: aiohttp.ClientSession,
        *,
        timeout_seconds: float = 5.0,
        retries: int = 2,
        backoff_seconds: float = 0.1,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self._session = session
        self.timeout_seconds = timeout_seconds
        self._retries = retries
        self._backoff = backoff_seconds

    async def call(
        self, method: str, path: str, body: Any = None, *, timeout_seconds: float | None = None
    ) -> dict[str, Any]:
        """`timeout_seconds`: this call's own, for the one whose work may wait on a third party
        longer than the usual timeout allows (the password migration hook); the deadline the callee
        is given (`X-Warden-Deadline`) follows it."""
        timeout = aiohttp.ClientTimeout(total=timeout_seconds or self.timeout_seconds)
        attempts = 1 + (self._retries if method.upper() in _IDEMPOTENT else 0)
        for attempt in range(1, attempts + 1):
            try:
                return await self._once(method, path, body, timeout)
            except Misconfigured:
                raise  # asking again will not change the other side's token or address
            except errors.ServiceUnavailable:
                if attempt == attempts:
                    raise
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    @staticmethod
    def _deadline(timeout: aiohttp.ClientTimeout) -> str:
        """When the callee may stop working for us: our own timeout, or sooner if our caller's is."""
        ours = time.time() + (timeout.total or 0)
        inherited = budget.get().deadline
        return f"{min(ours, inherited) if inherited is not None else ours:.3f}"

    async def _once(self, method: str, path: str, body: Any, timeout: aiohttp.ClientTimeout) -> dict[str, Any]:
        try:
            async with self._session.request(
                method,
                self._base + path,
                json=body,
                headers={INTERNAL_TOKEN_HEADER: self._token, DEADLINE_HEADER: self._deadline(timeout)},
                timeout=timeout,
                # A redirect would carry the internal token (and the body: a password to check) to
                # wherever it points, and its answer would be taken for the service's.
                allow_redirects=False,
            ) as response:
                if 300 <= response.status < 400:
                    log.warning("internal call %s %s answered %d: not followed", method, path, response.status)
                    raise Misconfigured(f"internal call answered {response.status}, a redirect")
                if response.status in _UPSTREAM and response.content_type == "application/json":
                    raise _upstream_error(response.status, await _json(response))
                if response.status == 500 and response.content_type == "application/json":
                    raise _internal_error(method, path, await _json(response))
                if response.status >= 500:  # often a proxy's HTML page (nginx's 502), never our JSON to read
                    raise _error(response.status, None)
                payload = await _json(response)
                if response.status < 400:  # the internal API answers objects (or nothing)
                    return payload if isinstance(payload, dict) else {}
                raise _error(response.status, payload)
        except (TimeoutError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            # The user's answer names no internal path (a caller outside learns nothing of the
            # services behind the port); the log does, for the operator.
            log.warning("internal call %s %s failed: %s", method, path, type(exc).__name__)
            raise errors.ServiceUnavailable(UNANSWERED) from exc


async def _json(response: aiohttp.ClientResponse) -> Any:
    """The body as JSON; an answer that is not JSON did not come from a Warden service (a proxy or
    load balancer in between answered), so the service is as good as unreachable."""
    if response.content_length == 0 or response.status == 204:
        return None
    if response.content_type != "application/json":
        raise errors.ServiceUnavailable(f"internal call answered {response.status} with {response.content_type}")
    body = await response.read()  # read as bytes: orjson takes them as they came, no text decoded first
    if not body.strip():
        return None
    try:
        return json_codec.loads(body)
    except (ValueError, RecursionError) as exc:
        raise errors.ServiceUnavailable(f"internal call answered {response.status} with malformed JSON") from exc


def _reported(status: int, payload: Any) -> dict[str, Any] | None:
    """The `error` object of an answer in Warden's own error shape (Kratos's) whose `code` is its
    status: the called service's own word. None for anything else, which came from in between (a
    proxy, a balancer)."""
    body = payload.get("error") if isinstance(payload, dict) else None
    return body if isinstance(body, dict) and body.get("code") == status else None


def _upstream_error(status: int, payload: Any) -> errors.WardenError:
    """A 502 or 504 the called service reports is a third party's failure (the password migration
    hook: services/identity/password_migration.py), raised again as such so that the user hears it
    as in one process. Anything else answered with those statuses: as good as unreachable."""
    body = _reported(status, payload)
    if body is None or not isinstance(body.get("reason"), str):
        return _error(status, None)
    cls = errors.BadGateway if status == 502 else errors.GatewayTimeout
    return cls(body["reason"], message=body.get("message") if isinstance(body.get("message"), str) else None)


def _internal_error(method: str, path: str, payload: Any) -> errors.WardenError:
    """A 500 the called service reports is its failure on this request (a bug, or what Kratos also
    answers 500: the password migration hook's body template failing), not an outage: asking again
    will not help, and the user hears a 500 as in one process. The answer is the generic one, with
    nothing of the call or of the service's words (they may name its internals); the log has both.
    A 500 in another shape came from in between: as good as unreachable."""
    body = _reported(500, payload)
    if body is None:
        return _error(500, None)
    said = {k: body[k] for k in ("id", "reason", "message", "request") if isinstance(body.get(k), str)}
    log.error("internal call %s %s answered 500: %s", method, path, said)
    return InternalCallFailed()


def _error(status: int, payload: Any) -> errors.WardenError:
    if status in _RETRY_STATUSES or status >= 500:
        return errors.ServiceUnavailable(f"internal call answered {status}")
    body = (payload or {}).get("error", {}) if isinstance(payload, dict) else {}
    if status == 401 and body.get("id") == INTERNAL_TOKEN_REFUSED:
        # The operator's mistake, not the user's: said in the log, and a 503 that names nothing internal.
        log.error("another service refused this process's services.internal_token: the processes must share one")
        return Misconfigured("another service could not be reached")
    if status == 429:
        return errors.TooManyRequests(int((body.get("details") or {}).get("retry_after") or 1), body.get("reason", ""))
    cls = _BY_STATUS.get(status, errors.BadRequest)
    error = cls(body.get("reason", ""), message=body.get("message"), details=body.get("details"))
    error.error_id = body.get("id")
    return error


class InternalCallFailed(errors.WardenError):
    """Another Warden service failed on the call (its 500): a 500 for the user, the generic one."""


class Misconfigured(errors.ServiceUnavailable):
    """The processes' configs disagree (the called service does not take our internal token, or its
    internal URL answers with a redirect): the same answer however often it is asked."""


class HttpServiceClient:
    """The HTTP adapter of `shared.clients.ports.ServiceClient` for the service named `service`."""

    def __init__(self, service: str, http: InternalHttp) -> None:
        self._service = service
        self._http = http

    async def info(self) -> dict[str, Any]:
        return await self._http.call("GET", f"/internal/{self._service}/info")
