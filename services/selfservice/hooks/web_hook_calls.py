"""Everything a `web_hook` needs from outside the flow: its config, read and checked once at
start-up, its body template, and the HTTP call itself (through the service's egress guard).

Body templates are loaded by shared/body_templates.py: local ones (`file://`, `base64://`) at
start-up, so a broken one stops Warden with the key that names it; remote ones (`http(s)://`) when
the hook runs, kept for a minute after, and a failure then is the call's failure.

One hook gets `webhooks.timeout` in all: fetching its remote template and the call share that
budget (`deadline`), so a slow template host holds a flow up no longer than a slow receiver."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from services.selfservice.config import FLOW_KINDS
from shared.body_templates import RemoteTemplates, is_remote, load_local
from shared.errors import ConfigError
from shared.http.egress import MAX_RESPONSE_BYTES, Egress, read_up_to
from shared.http.outgoing import METHODS_WITH_BODY, encode_body, request_headers, web_hook_timeout
from shared.jsonnet import JsonnetBody
from shared.jsonnet_sandbox import JsonnetSandbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebHookSpec:
    key: str  # the config path of the hook's `config`
    url: str
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    auth: dict[str, Any] | None = None
    body_url: str | None = None
    can_interrupt: bool = False
    parse: bool = False
    ignore: bool = False
    id: str = ""  # Kratos's `config.id`: the name its owner knows the hook by, for logs

    @property
    def interrupts(self) -> bool:
        """Only the answer of such a hook matters to the flow; it runs before the flow's effect."""
        return (self.parse or self.can_interrupt) and not self.ignore

    @property
    def name(self) -> str:
        """How logs name the hook: its `id` beside where it is configured, or where alone."""
        return f"{self.id!r} ({self.key})" if self.id else self.key


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


class WebHooks:
    def __init__(
        self,
        specs: dict[str, WebHookSpec],
        bodies: dict[str, JsonnetBody],
        egress: Egress,
        timeout: float,
        allow: Any,
        sandbox: JsonnetSandbox,
    ) -> None:
        self._specs = specs  # by the canonical JSON of the hook's config
        self._bodies = bodies  # local templates by URL
        self._remote = RemoteTemplates(egress)
        self._egress = egress
        self._sandbox = sandbox  # where a body is evaluated: its `ctx` carries what a user sent
        self.timeout = timeout
        self.header_allowlist = frozenset(h.lower() for h in allow)

    @classmethod
    async def load(cls, settings: Any, egress: Egress, sandbox: JsonnetSandbox) -> WebHooks:
        specs: dict[str, WebHookSpec] = {}
        bodies: dict[str, JsonnetBody] = {}
        for key, config in _configured_hooks(settings):
            spec = _spec(key, config)
            specs.setdefault(_canonical(config), spec)
            if spec.body_url and not is_remote(spec.body_url) and spec.body_url not in bodies:
                bodies[spec.body_url] = load_local(settings, spec.body_url, f"{_shown(key)}.body")
        allow = settings.get("clients.web_hook.header_allowlist") or ()
        return cls(specs, bodies, egress, web_hook_timeout(settings), allow, sandbox)

    def spec_for(self, config: dict[str, Any]) -> WebHookSpec:
        return self._specs[_canonical(config)]

    def deadline(self) -> float:
        """When a hook starting now must be done, its template fetched and its call answered (loop time)."""
        return asyncio.get_running_loop().time() + self.timeout

    async def render(self, spec: WebHookSpec, ctx: dict[str, Any], deadline: float) -> str | None:
        """The body for this call (raises JsonnetError for a template that fails on this ctx or is
        not evaluated by `deadline`, and TimeoutError when a remote one is not fetched by then)."""
        if spec.body_url is None or spec.method.upper() not in METHODS_WITH_BODY:
            return None
        body = self._bodies.get(spec.body_url)
        if body is None:
            async with asyncio.timeout_at(deadline):
                body = await self._remote.get(spec.body_url)
        # `ctx` carries what the user sent: evaluated apart, within what is left of the hook's time.
        left = deadline - asyncio.get_running_loop().time()
        return await self._sandbox.evaluate(body, timeout=left, tla={"ctx": ctx})

    async def call(
        self, spec: WebHookSpec, document: str | None, deadline: float, idempotency_key: str | None = None
    ) -> Answer:
        """One synchronous call, done by `deadline` from connect to the last byte read."""
        headers = request_headers(spec.headers, spec.auth)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        data = encode_body(document, headers) if document is not None else None
        async with asyncio.timeout_at(deadline):
            async with self._egress.request(spec.method.upper(), spec.url, data=data, headers=headers) as response:
                return Answer(response.status, await read_up_to(response.content, MAX_RESPONSE_BYTES))


def _configured_hooks(settings: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every `web_hook` entry of every flow's before/after step, global or per method, with its path."""
    for kind in FLOW_KINDS:
        for when in ("before", "after"):
            prefix = f"selfservice.flows.{kind}.{when}"
            section = settings.get(prefix) or {}
            lists = [("hooks", section.get("hooks"))]
            lists += [(f"{m}.hooks", v.get("hooks")) for m, v in section.items() if isinstance(v, dict)]
            for path, entries in lists:
                for index, entry in enumerate(entries or []):
                    if isinstance(entry, dict) and entry.get("hook") == "web_hook":
                        yield f"{prefix}.{path}.{index}.config", entry.get("config") or {}


def _spec(key: str, config: dict[str, Any]) -> WebHookSpec:
    if not config.get("url"):
        raise ConfigError(f"config: {_shown(key)}.url: a web_hook needs a URL")
    response = config.get("response") or {}
    body = config.get("body")
    if body and "://" not in body:  # Kratos's deprecated bare path
        body = f"file://{body}"
    return WebHookSpec(
        key=key,
        url=str(config["url"]),
        method=str(config.get("method") or "POST").upper(),
        headers=dict(config.get("headers") or {}),
        auth=config.get("auth"),
        body_url=body or None,
        can_interrupt=bool(config.get("can_interrupt", False)),
        parse=bool(response.get("parse", False)),
        ignore=bool(response.get("ignore", False)),
        id=str(config.get("id") or ""),
    )


def _shown(key: str) -> str:
    """`a.hooks.0.config` as config errors spell paths: `a.hooks[0].config`."""
    return re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", key)


def _canonical(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, separators=(",", ":"))
