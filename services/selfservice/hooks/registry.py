"""Hooks that run before and after flows, from `selfservice.flows.<flow>.<before|after>[.<method>].hooks`.

One registry of hook names; a flow asks for the hooks of its step and runs them in config order.
`pre` hooks run before the flow's effect (the session is issued, the identity is created) and may
refuse it; `post` hooks run after it and shape the answer (`continue_with`, the session).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from services.selfservice.flows.flow import Flow

log = logging.getLogger(__name__)


@dataclass
class HookContext:
    request: web.Request
    flow: Flow
    identity: dict[str, Any]
    method: str
    session: dict[str, Any] | None = None
    session_token: str | None = None
    continue_with: list[dict[str, Any]] = field(default_factory=list)
    verification_flows: list[dict[str, Any]] = field(default_factory=list)  # show_verification_ui items
    # Calls for reliable delivery (shared.webhooks.command), committed with the flow's final state.
    deliveries: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Hook:
    name: str
    phase: str  # "pre" or "post"
    run: Callable[[HookContext], Awaitable[None]]


HookFactory = Callable[[Any, dict[str, Any]], Hook]


class HookRegistry:
    def __init__(self, factories: dict[str, HookFactory], deps: Any, config: Any) -> None:
        self._factories = factories
        self._deps = deps
        self._config = config
        self._warned: set[str] = set()

    def for_step(self, kind: str, when: str, method: str | None, phase: str) -> list[Hook]:
        hooks = []
        for entry in self._config.hooks(kind, when, method):
            name = entry.get("hook")
            factory = self._factories.get(name)
            if factory is None:
                if name not in self._warned:
                    self._warned.add(name)
                    log.warning(
                        "hook %r (%s %s) is not available in this version of Warden and is skipped", name, kind, when
                    )
                continue
            hook = factory(self._deps, entry.get("config") or {})
            if hook.phase == phase:
                hooks.append(hook)
        return hooks

    async def run(self, kind: str, when: str, phase: str, ctx: HookContext) -> None:
        for hook in self.for_step(kind, when, ctx.method, phase):
            await hook.run(ctx)
