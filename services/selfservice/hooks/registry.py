"""Hooks that run before and after flows, from `selfservice.flows.<flow>.<before|after>[.<method>].hooks`.

One registry of hook names; a flow asks for the hooks of its step and runs them in config order.
`pre` hooks run before the flow's effect (the session is issued, the identity is created) and may
refuse it; `post` hooks run after it and shape the answer (`continue_with`, the session). Which
list a step's hooks come from (a method's own or the flow-wide one, never both) is Kratos's rule,
kept in `SelfserviceConfig.hooks`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import Flow
from shared.bus.events import WebhookRequested
from shared.errors import BadRequest

SESSION = "session"  # the hook that signs the new identity in: always the step's last


@dataclass
class HookContext:
    request: web.Request
    flow: Flow
    identity: dict[str, Any]
    method: str
    session: dict[str, Any] | None = None
    session_token: str | None = None
    # A settings change's identity as it was before the change (Kratos's `Previous`; `identity` is
    # the updated one). None in every other flow.
    previous: dict[str, Any] | None = None
    continue_with: list[dict[str, Any]] = field(default_factory=list)
    verification_flows: list[dict[str, Any]] = field(default_factory=list)  # show_verification_ui items
    # Where a browser form goes instead of `return_to`: the verification flow `show_verification_ui`
    # picked (Kratos's `SetReturnToVerification`). None: the flow's usual return URL.
    verification_ui: str | None = None
    # Calls for reliable delivery (`courier.webhook.requested`), committed with the flow's final state.
    deliveries: list[WebhookRequested] = field(default_factory=list)
    # The session method a registration's `session` hook signs in with: its strategy's (a social
    # sign-in's names the provider, at the level its claims prove). None: `method` at aal1.
    authentication_method: dict[str, Any] | None = None


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

    def for_step(self, kind: str, when: str, method: str | None, phase: str) -> list[Hook]:
        """The step's hooks in config order, but `session` last and once wherever it is listed
        (Kratos's `getHooks`): the sign-in answers the flow, so every other hook runs before it, and
        a web hook listed after it still sees no session, and `set_ory_session_token` comes after
        the items the other hooks add to `continue_with`."""
        hooks, session = [], None
        for entry in self._config.hooks(kind, when, method, before_save=phase == "pre"):
            name = entry.get("hook")
            factory = self._factories.get(name)
            if factory is None:  # a name Kratos's schema admits but Warden lacks: warned about at start-up
                continue
            hook = factory(self._deps, entry.get("config") or {})
            if hook.phase != phase:
                continue
            if name == SESSION:
                session = hook
            else:
                hooks.append(hook)
        return [*hooks, session] if session is not None else hooks

    async def run(self, kind: str, when: str, phase: str, ctx: HookContext) -> None:
        for hook in self.for_step(kind, when, ctx.method, phase):
            await hook.run(ctx)

    async def run_all(self, kind: str, when: str, ctx: HookContext) -> None:
        """Both phases, for steps with no effect of their own to put between them (a flow being
        created; recovery and verification, whose effect has already happened)."""
        await self.run(kind, when, "pre", ctx)
        await self.run(kind, when, "post", ctx)

    async def before_flow(self, request: web.Request, flow: Flow) -> list[WebhookRequested]:
        """`selfservice.flows.<kind>.before.hooks` on a new flow; returns the calls to deliver. A hook
        that refuses the flow makes it a 400 carrying the hook's messages (there is no form yet)."""
        ctx = HookContext(request, flow, flow.fields.get("identity") or {}, "")
        try:
            await self.run_all(flow.kind, "before", ctx)
        except FlowInvalid:
            messages = [m.to_json() for m in flow.ui.messages] + [
                m.to_json() for node in flow.ui.nodes for m in node.messages
            ]
            raise BadRequest("A web hook refused to start this flow.", details={"messages": messages}) from None
        return ctx.deliveries
