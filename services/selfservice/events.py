"""The self-service events: the flow's final state and its event commit together. No secrets and no
identifiers typed by the user (an unknown identifier would leak what people try)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.selfservice.flows.flow import Flow
from services.selfservice.flows.persistence import FlowRepository
from services.selfservice.hooks.registry import HookContext
from shared.bus import events
from shared.bus.events import EventType, WebhookRequested
from shared.storage.uow import UnitOfWorkFactory


class FlowEvents:
    def __init__(self, uow: UnitOfWorkFactory, flows: FlowRepository) -> None:
        self._uow = uow
        self._flows = flows

    async def login_succeeded(self, flow: Flow, ctx: HookContext) -> None:
        await self._succeeded(flow, events.LOGIN_SUCCEEDED, ctx)

    async def login_failed(self, flow: Flow, method: Any) -> None:
        await self._close(
            flow, events.LOGIN_FAILED, (), {"method": method if isinstance(method, str) else None}, save=False
        )

    async def registration_succeeded(self, flow: Flow, ctx: HookContext) -> None:
        await self._succeeded(flow, events.REGISTRATION_SUCCEEDED, ctx)

    async def _succeeded(self, flow: Flow, event: EventType[Any], ctx: HookContext) -> None:
        # A registration that does not sign the user in has no session: its event carries no id.
        session_id = (ctx.session or {}).get("id")
        await self.closed(
            flow, event, ctx.deliveries, identity_id=ctx.identity["id"], session_id=session_id, method=ctx.method
        )

    async def closed(
        self,
        flow: Flow,
        event: EventType[Any],
        deliveries: Sequence[WebhookRequested] = (),
        **fields: Any,
    ) -> None:
        """Saves a flow's final state with its event (`fields`: the payload beyond the flow's id and type)."""
        await self._close(flow, event, deliveries, fields)

    async def saved(self, flow: Flow) -> None:
        """A flow's final state with no event: a registration that hid an existing account
        (registration/existing_account.py) registered nobody, and subscribers must not hear otherwise."""
        async with self._uow() as uow:
            uow.write(*self._flows.update(flow))
            await uow.commit()

    async def requested(self, deliveries: Sequence[WebhookRequested]) -> None:
        """Web hook calls of a step that saves nothing of its own (a flow's `before` hooks)."""
        if deliveries:
            async with self._uow() as uow:
                for delivery in deliveries:
                    uow.emit(events.COURIER_WEBHOOK_REQUESTED, delivery)
                await uow.commit()

    async def _close(
        self,
        flow: Flow,
        event: EventType[Any],
        deliveries: Sequence[WebhookRequested],
        fields: dict[str, Any],
        save: bool = True,
    ) -> None:
        """The flow's final state, its event and its web hook calls commit together or not at all."""
        payload = event.payload(flow_id=flow.id, flow_type=flow.type, **fields)
        async with self._uow() as uow:
            if save:
                uow.write(*self._flows.update(flow))
            uow.emit(event, payload)
            for delivery in deliveries:
                uow.emit(events.COURIER_WEBHOOK_REQUESTED, delivery)
            await uow.commit()
