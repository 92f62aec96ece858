"""The password migration hook (`selfservice.methods.password.config.migrate_hook`, Kratos's
`selfservice/hook/password_migration_hook.go`): users come over from a legacy system without their
hashes. An identity imported with `credentials.password.config.use_password_migration_hook: true`
(and no hash) signs in once by the legacy system's word: the identifier and password, as typed,
are POSTed as `{"identifier", "password"}` (or as `config.body`, a Jsonnet template, makes of
them) to `config.url` with the configured `headers` and `auth`; a 200 whose JSON (its first KiB, as Kratos reads it) is `{"status": "password_match"}`
vouches for the password, which is then hashed and stored with Warden's hasher, the flag dropped.
Any other 200 and a 403 are a wrong password. No answer, a refused connection or any other status
is Kratos's 502 (a timeout, `webhooks.timeout`, its 504): the identity is left as it is.

The identity service makes the call, because it owns passwords: the check is reserved, throttled
and timed by `passwords.PasswordVerifier` exactly as a hash check is, and the password never
leaves it but for the hook. The call goes through the service's egress guard
(`clients.http.disallow_private_ip_ranges`, shared/http/egress.py).

`config.body` is loaded as a web hook's is (shared/body_templates.py). Its `ctx` is Kratos's
`PasswordMigrationRequest`: `identifier` and `password`. Kratos adds the login flow and the
request's method, URL, headers and cookies, which this service is not given: a template reading
them fails (a 500, as any template failure is in Kratos), and the identity is left as it is. As
Jsonnet's error text can hold what the template computed from the password, only its positions are
logged. The template is evaluated in the identity service's Jsonnet sandbox
(shared/jsonnet_sandbox.py), within the hook's deadline, as every program fed what a user typed is:
here the identifier and the password, strings of bounded length, but a template's cost is the
operator's to choose and must hold up no request but the one it runs for."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from services.identity.errors import (
    MigrationHookBodyFailed,
    MigrationHookImproper,
    MigrationHookTimedOut,
    MigrationHookUnreachable,
)
from shared.body_templates import RemoteTemplates, is_remote, load_local
from shared.errors import ConfigError
from shared.http.egress import Egress, EgressPolicy, PrivateAddressRefused, read_up_to
from shared.http.outgoing import encode_body, request_headers, web_hook_timeout
from shared.jsonnet import JsonnetBody, JsonnetError
from shared.jsonnet_sandbox import JsonnetSandbox

log = logging.getLogger(__name__)
KEY = "selfservice.methods.password.config.migrate_hook"
MATCH = "password_match"
ANSWER_BYTES = 1024  # Kratos decodes the first KiB of a 200 and no more
BODY_KEY = f"{KEY}.config.body"
# Jsonnet's message for a missing field, logged when the field is one Kratos's `ctx` has and this
# one has not (any other name could be computed from the password: `ctx[ctx.password]`).
_KRATOS_ONLY = "flow|request_headers|request_method|request_url|request_cookies|identity|transient_payload"
_MISSING_FIELD = re.compile(rf"RUNTIME ERROR: Field does not exist: (?:{_KRATOS_ONLY})(?=\n|$)")


@dataclass(frozen=True)
class MigrationHookConfig:
    url: str
    timeout: float
    headers: dict[str, str] = field(default_factory=dict)
    auth: dict[str, Any] | None = None
    body_url: str | None = None
    body: JsonnetBody | None = None  # a local `body_url`, loaded and syntax-checked at start-up

    @classmethod
    def from_settings(cls, settings: Any) -> MigrationHookConfig | None:
        """None while the hook is not `enabled`; enabled without a URL, or with a local `body` that
        cannot be read or does not parse, stops start-up."""
        hook = settings.get(KEY) or {}
        if not hook.get("enabled"):
            return None
        config = hook.get("config") or {}
        if not config.get("url"):
            raise ConfigError(f"config: {KEY}.config.url: the password migration hook needs a URL")
        body_url = config.get("body") or None
        body = load_local(settings, body_url, BODY_KEY, BODY_KEY) if body_url and not is_remote(body_url) else None
        return cls(
            str(config["url"]),
            web_hook_timeout(settings),
            dict(config.get("headers") or {}),
            config.get("auth"),
            body_url,
            body,
        )


class PasswordMigrationHook:
    def __init__(self, config: MigrationHookConfig, egress: Egress, sandbox: JsonnetSandbox) -> None:
        self.config = config
        self._egress = egress
        self._templates = RemoteTemplates(egress)
        self._sandbox = sandbox  # the service's, closed by it

    @classmethod
    def from_settings(cls, settings: Any, sandbox: JsonnetSandbox) -> PasswordMigrationHook | None:
        """The hook, with an egress of its own (open inside the loop; `close` it), or None when off."""
        config = MigrationHookConfig.from_settings(settings)
        return cls(config, Egress(EgressPolicy.from_settings(settings)), sandbox) if config else None

    async def vouches_for(self, identifier: str, password: str) -> bool:
        """Whether the legacy system says this is the password; the typed 502/504 when it says
        nothing usable. MigrationHookUnreachable without `delivered`: the password went nowhere."""
        headers = request_headers(self.config.headers, self.config.auth)
        deadline = asyncio.get_running_loop().time() + self.config.timeout  # a remote body's fetch and the call
        body = await self._body(identifier, password, headers, deadline)
        try:
            async with asyncio.timeout_at(deadline):
                async with self._egress.request("POST", self.config.url, data=body, headers=headers) as response:
                    status = response.status
                    head = await read_up_to(response.content, ANSWER_BYTES) if status == 200 else b""
        except TimeoutError:
            log.warning("the password migration hook did not answer within %ss", self.config.timeout)
            raise MigrationHookTimedOut() from None
        except (aiohttp.ClientConnectorError, PrivateAddressRefused) as exc:
            log.warning("the password migration hook could not be reached: %s", type(exc).__name__)
            raise MigrationHookUnreachable() from None
        except (aiohttp.ClientError, OSError) as exc:  # connected, then lost: the password may have arrived
            log.warning("the password migration hook call failed: %s", type(exc).__name__)
            raise MigrationHookUnreachable(delivered=True) from None
        if status == 200:
            return _says_match(head)
        if status == 403:
            return False
        log.warning("the password migration hook answered %d", status)
        raise MigrationHookImproper(status)

    async def _body(self, identifier: str, password: str, headers: dict[str, str], deadline: float) -> bytes:
        """Kratos's default body, or what `config.body` makes of the same `ctx`."""
        ctx = {"identifier": identifier, "password": password}
        url = self.config.body_url
        if url is None:
            return json.dumps(ctx).encode()
        try:
            program = self.config.body
            if program is None:
                async with asyncio.timeout_at(deadline):
                    program = await self._templates.get(url, BODY_KEY)
        except RuntimeError as exc:  # a fetched template that does not parse
            log.error("%s: the fetched Jsonnet body does not parse: %s", BODY_KEY, " ".join(str(exc).split()))
            raise MigrationHookBodyFailed() from None
        except (aiohttp.ClientError, OSError, PrivateAddressRefused) as exc:  # TimeoutError is an OSError
            log.error("%s: cannot fetch %s: %s", BODY_KEY, url, type(exc).__name__)
            raise MigrationHookBodyFailed() from None
        try:
            left = deadline - asyncio.get_running_loop().time()
            return encode_body(await self._sandbox.evaluate(program, timeout=left, tla={"ctx": ctx}), headers)
        except (JsonnetError, ValueError) as exc:
            log.error("%s: the Jsonnet body failed for this login: %s", BODY_KEY, _safe_reason(exc))
            raise MigrationHookBodyFailed() from None

    async def close(self) -> None:
        await self._egress.close()


def _safe_reason(exc: Exception) -> str:
    """What of a template failure may be logged: the positions Jsonnet names, and its message only
    when it cannot hold what the template computed (a missing `ctx` field of Kratos's). A form body that
    is not an object (ValueError) says nothing of the values."""
    if not isinstance(exc, JsonnetError):
        return str(exc)
    text = str(exc)
    shown = _MISSING_FIELD.match(text)
    positions = re.findall(re.escape(BODY_KEY) + r":([0-9:()\-]+)", text)
    where = f" at {', '.join(positions)}" if positions else ""
    return (shown.group(0) if shown else "its message is not logged, as it may hold the password") + where


def _says_match(head: bytes) -> bool:
    """Whether the first JSON value the answer starts with has `status: password_match`, read as
    Go's decoder reads it into Kratos's struct: what follows the value is not read, and a key that
    differs only in case is the field."""
    try:
        answer, _ = json.JSONDecoder().raw_decode(head.decode("utf-8", errors="replace").lstrip())
    except ValueError:
        return False
    if not isinstance(answer, dict):
        return False
    status = answer.get("status", next((v for k, v in answer.items() if k.lower() == "status"), None))
    return status == MATCH
