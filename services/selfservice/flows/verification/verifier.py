"""Verification messages the other flows send on their own: after registration, and after a profile
change brings a new address. Each address gets a verification flow of its own and a message; the
answer lists the flows as Kratos's `show_verification_ui` continue-with items.

A registration does it in two halves (review finding 9): before the identity is created, `prepare`
makes the flows under ids derived from the registration flow and the address, already in Kratos's
`sent_email` state with the code form (proof.py's `announce`: the page the user lands on asks for
the code, not for the address just typed), but sends nothing; the identity service's committed
`identity.created` event names the registration flow, and its consumer (`after_registration.py`)
sends the codes with `send_prepared`. The mail follows from the identity existing, not from the
request that asked for it surviving, and it goes once: only a flow still awaiting its message gets
one.

Which addresses get a flow is the verification method's to say (`channels`), the same for a
registration, a settings change and a login refused by `require_verified_address`: with the code
method a phone number (`via: sms`) gets its code by the courier's SMS channel, as Kratos's code
sender texts it; a link goes by mail only, so with the link method a phone number gets nothing."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from aiohttp import web

from services.selfservice.codes import Recipient
from services.selfservice.flows.address_flow import AddressFlowParts, Origin, new_address_flow
from services.selfservice.flows.flow import Flow
from shared.errors import TooManyRequests

if TYPE_CHECKING:
    from services.selfservice.config import SelfserviceConfig

log = logging.getLogger(__name__)

# Registration's query parameter naming where a verified user goes (Kratos's `after_verification_return_to`).
AFTER_VERIFICATION_RETURN_TO = "after_verification_return_to"


@dataclass(frozen=True)
class Verifier:
    container: AddressFlowParts

    async def send(
        self,
        request: web.Request,
        flow_type: str,
        addresses: list[dict[str, Any]],
        *,
        origin: Flow | None = None,
    ) -> list[dict[str, Any]]:
        """`origin`: the registration, settings or login flow whose addresses these are (see
        `came_from`). Only addresses the method can reach (`channels`) get a flow."""
        c = self.container
        if not c.config.flows["verification"].enabled:
            return []
        items = []
        urls = came_from(c.config, origin) if origin is not None else None
        strategy = c.address_strategies["verification"]
        for address in _to_verify(addresses, self.channels()):
            if not await self._within_client_window():
                continue
            flow = await new_address_flow(c, request, "verification", flow_type, came_from=urls)
            await c.proof.send(flow, "verification", strategy, address["value"], via=address["via"])
            items.append(_show_ui(c, flow, address))
        return items

    async def _within_client_window(self) -> bool:
        """Counts one message on the client's `rate_limits.per_ip.code_send` window, as a resend does
        (address_flow.py); False past it. A settings change has no window of its own, and each one
        that brings a new address sends to it: without this, one account could have Warden text any
        number of phone numbers of its choosing (SMS pumping), one settings submission each. Past
        the window the change stands and no flow or message is made for the address."""
        try:
            await self.container.engine.limit("code_send")
        except TooManyRequests:
            log.info("no verification message: the client reached its code_send window")
            return False
        return True

    def channels(self) -> Collection[str]:
        """The `via`s the verification method can send by: email, and with the code method SMS too
        (by the courier's SMS channel, as Kratos's code sender does); a link goes by mail only."""
        strategy = self.container.address_strategies.get("verification")
        return ("email", "sms") if strategy is not None and strategy.method == "code" else ("email",)

    async def prepare(
        self, request: web.Request, registration: Flow, addresses: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        c = self.container
        if not c.config.flows["verification"].enabled:
            return []
        items = []
        urls = came_from(c.config, registration)
        for address in _to_verify(addresses, self.channels()):
            flow_id = prepared_flow_id(registration.id, address["value"])
            async with c.engine.uow() as uow:  # a second try of the same registration reuses it
                flow = await c.engine.flows.get(uow.connection, flow_id, "verification")
            if flow is None:
                flow = await new_address_flow(
                    c,
                    request,
                    "verification",
                    registration.type,
                    flow_id=flow_id,
                    announced_to=Recipient(address["value"], address["via"]),
                    came_from=urls,
                )
            items.append(_show_ui(c, flow, address))
        return items

    async def send_prepared(self, registration_flow_id: str, identity: dict[str, Any]) -> int:
        """Sends the codes of the flows `prepare` made for `identity`'s unverified addresses; how many."""
        c = self.container
        if not c.config.flows["verification"].enabled:
            return 0
        sent = 0
        for address in _to_verify(identity.get("verifiable_addresses") or [], self.channels()):
            flow_id = prepared_flow_id(registration_flow_id, address["value"])
            async with c.engine.uow() as uow:
                flow = await c.engine.flows.get(uow.connection, flow_id, "verification")
            # None prepared, or its code went out already. (A flow prepared by a version before
            # `announce` waits in choose_method.)
            if flow is None or not (c.proof.awaiting(flow) or flow.state == "choose_method"):
                continue
            flow.ui.clear_messages()  # the announced notice, said again by the sending
            strategy, value, via = c.address_strategies["verification"], address["value"], address["via"]
            if await c.proof.send(flow, "verification", strategy, value, via=via, announced=c.proof.awaiting(flow)):
                sent += 1
        return sent


def came_from(config: SelfserviceConfig, origin: Flow) -> Origin:
    """What a verification flow a registration or a settings change makes takes from it (Kratos's
    `NewPostHookFlow`): its request URL, `after_verification_return_to` (given to the flow's
    `…/browser` init) taking the place of `return_to` when set, and the `transient_payload`
    submitted with it. A URL the allow-list refuses is dropped, and the verified user goes to the
    default, as in Kratos."""
    parts = urlsplit(origin.request_url)
    query = parse_qs(parts.query, keep_blank_values=True)
    after = (query.pop(AFTER_VERIFICATION_RETURN_TO, None) or [""])[0]
    if after:
        query["return_to"] = [after]
    request_url = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
    wanted = (query.get("return_to") or [""])[0]
    return_to = config.absolute_return_to(wanted) if wanted else None
    allowed = return_to if return_to and config.return_to_allowed(return_to) else None
    return Origin(request_url, allowed, origin.transient_payload)


def _to_verify(addresses: list[dict[str, Any]], channels: Collection[str]) -> list[dict[str, Any]]:
    return [a for a in addresses if not a.get("verified") and a.get("via") in channels]


def prepared_flow_id(registration_flow_id: str, address: str) -> str:
    return str(uuid.uuid5(uuid.UUID(registration_flow_id), f"verification:{address}"))


def _show_ui(c: AddressFlowParts, flow: Flow, address: dict[str, Any]) -> dict[str, Any]:
    url = f"{c.config.flows['verification'].ui_url}?{urlencode({'flow': flow.id})}"
    return {
        "action": "show_verification_ui",
        "flow": {"id": flow.id, "verifiable_address": address["value"], "url": url},
    }
