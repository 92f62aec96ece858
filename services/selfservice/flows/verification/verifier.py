"""Verification messages the other flows send on their own: after registration, and after a profile
change brings a new address. Each address gets a verification flow of its own and a message; the
answer lists the flows as Kratos's `show_verification_ui` continue-with items."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from services.selfservice.flows.address_flow import AddressFlowParts, new_address_flow
from services.selfservice.flows.flow import Flow


@dataclass(frozen=True)
class Verifier:
    container: AddressFlowParts

    async def send(self, request: web.Request, flow_type: str, addresses: list[dict[str, Any]]) -> list[dict[str, Any]]:
        c = self.container
        if not c.config.flows["verification"].enabled:
            return []
        items = []
        for address in addresses:
            if address.get("verified") or address.get("via") != "email":
                continue
            flow = await new_address_flow(c, request, "verification", flow_type)
            await c.proof.send(flow, "verification", c.address_strategies["verification"], address["value"])
            items.append(_show_ui(c, flow, address))
        return items


def _show_ui(c: AddressFlowParts, flow: Flow, address: dict[str, Any]) -> dict[str, Any]:
    url = f"{c.config.flows['verification'].ui_url}?{urlencode({'flow': flow.id})}"
    return {
        "action": "show_verification_ui",
        "flow": {"id": flow.id, "verifiable_address": address["value"], "url": url},
    }
