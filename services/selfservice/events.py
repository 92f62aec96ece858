"""The self-service events: the flow's final state and its event commit together. No secrets and no
identifiers typed by the user (an unknown identifier would leak what people try)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.selfservice.flows.flow import Flow
from services.selfservice.flows.persistence import FlowRepository
from services.selfservice.hooks.registry import HookContext
from shared.storage.uow import UnitOfWorkFactory
from shared.webhooks.command import WEBHOOK_REQUESTED


class FlowEvents:
    def __init__(self, uow: UnitOfWorkFactory, flows: FlowRepository) -> None:
        self._uow = uow
        self._flows = flows

    async def login_succeeded(self, flow: Flow, ctx: HookContext) -> None:
        await self._close(
            flow,
            "selfservice.login.succeeded",
            {
                "identity_id": ctx.identity["id"],
                "session_id": (ctx.session or {}).get("id"),
                "method": ctx.method,
            },
            ctx.deliveries,
        )

    async def login_failed(self, flow: Flow, method: Any) -> None:
        await self._close(
            flow, "selfservice.login.failed", {"method": method if isinstance(method, str) else None}, save=False
        )

    async def registration_succeeded(self, flow: Flow, ctx: HookContext) -> None:
        await self._close(
            flow,
            "selfservice.registration.succeeded",
            {
                "identity_id": ctx.identity["id"],
                "session_id": (ctx.session or {}).get("id"),
                "method": ctx.method,
            },
            ctx.deliveries,
        )

    async def closed(
        self, flow: Flow, event: str, data: dict[str, Any], deliveries: Sequence[dict[str, Any]] = ()
    ) -> None:
        """Saves a flow's final state with its event (verification, recovery, settings)."""
        await self._close(flow, event, data, deliveries)

    async def requested(self, deliveries: Sequence[dict[str, Any]]) -> None:
        """Web hook calls of a step that saves nothing of its own (a flow's `before` hooks)."""
        if deliveries:
            async with self._uow() as uow:
                for delivery in deliveries:
                    uow.emit(WEBHOOK_REQUESTED, delivery)
                await uow.commit()

    async def _close(
        self,
        flow: Flow,
        event: str,
        data: dict[str, Any],
        deliveries: Sequence[dict[str, Any]] = (),
        save: bool = True,
    ) -> None:
        """The flow's final state, its event and its web hook calls commit together or not at all."""
        async with self._uow() as uow:
            if save:
                await self._flows.save(uow.connection, flow)
            uow.emit(event, {"flow_id": flow.id, "flow_type": flow.type, **data})
            for delivery in deliveries:
                uow.emit(WEBHOOK_REQUESTED, delivery)
            await uow.commit()
