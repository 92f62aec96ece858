"""Proving an address, the part verification and recovery share: send a code or link to an address
(only to a known one; an unknown one looks the same to the requester), and redeem what comes back.
Each step commits the flow's new state, the code's HMAC and the courier command together.

A registration's verification flow is `announce`d before its message can go (the identity it is
for does not exist yet, verifier.py): it shows the code form at once, as Kratos's does, and is
marked as awaiting its message until `send` sends one to the address's identity."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from services.selfservice import code_owner
from services.selfservice.codes import (
    OneTimeCodes,
    Recipient,
    Redeemed,
    TriesUsedUp,
    courier_message,
    flow_template_data,
)
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.persistence import FlowRepository
from services.selfservice.flows.verification.strategy import AddressProofStrategy
from services.selfservice.send_budget import SendBudget
from services.selfservice.views import public_identity
from shared.bus.events import COURIER_MESSAGE_REQUESTED, MessageRequested
from shared.clients.ports import IdentityClient
from shared.identifiers import fold_address
from shared.storage.uow import UnitOfWorkFactory

AWAITING_MESSAGE = "awaiting_message"  # in Flow.internal: announced as sent, its message not sent yet
# In Flow.internal, with the mark above: the `transient_payload` of the submission that made the flow,
# for its message's template (Kratos sends the message in that request; here it goes in a later one).
AWAITED_PAYLOAD = "awaited_transient_payload"


@dataclass(frozen=True)
class AddressProof:
    uow: UnitOfWorkFactory
    flows: FlowRepository
    codes: OneTimeCodes
    identities: IdentityClient
    lifespans: dict[str, timedelta]  # by method (and "code/sms"): how long a code or link works
    notify_unknown: dict[str, bool]  # by flow kind: `notify_unknown_recipients`
    budget: SendBudget  # messages per address (mail bombing)

    @staticmethod
    def announce(flow: Flow, kind: str, strategy: AddressProofStrategy, address: str, *, via: str = "email") -> None:
        """The flow as it will be once its message went out (state, code form, notice), not stored."""
        strategy.after_sending(flow, kind, fold_address(address), via)
        flow.state = "sent_email"
        flow.internal[AWAITING_MESSAGE] = True
        if flow.transient_payload is not None:
            flow.internal[AWAITED_PAYLOAD] = flow.transient_payload

    @staticmethod
    def awaiting(flow: Flow) -> bool:
        """Announced, and no message sent to the address's identity since."""
        return bool(flow.internal.get(AWAITING_MESSAGE))

    async def send(
        self,
        flow: Flow,
        kind: str,
        strategy: AddressProofStrategy,
        address: str,
        *,
        via: str = "email",
        announced: bool = False,
    ) -> bool:
        """A code or link to an address (an email address, or with `via="sms"` a phone number, by
        the courier's SMS channel), for the identity that has it (if any): `deliver`.
        `announced`: the first message of a flow `announce` already showed as sent (a
        registration's, verifier.py), which changes nothing its user sees, and keeps its
        `updated_at`: a registration that hid an existing account never sends one (docs/security.md,
        EN-4), and the two must read the same. A resend is a change like any other.
        False, and nothing sent, when the announced message went out since `flow` was read: of two
        deliveries of one `identity.created` handled at once, the one that takes the mark sends."""
        # As the identity service spells its addresses: the code is kept for that spelling, which
        # redeeming compares with the identity's addresses (a fullwidth or zero-width-spaced variant
        # typed here finds the same account, and its code must work for it).
        address = fold_address(address)
        identity = await self.identities.find_by_address(kind, via, address)
        return await self.deliver(flow, kind, strategy, Recipient(address, via), identity, announced=announced)

    async def deliver(
        self,
        flow: Flow,
        kind: str,
        strategy: AddressProofStrategy,
        recipient: Recipient,
        identity: dict[str, Any] | None,
        *,
        announced: bool = False,
        shown: Callable[[Flow], None] | None = None,
    ) -> bool:
        """Issues a code or link for `recipient`, an address of `identity` (None: of no account, which
        gets the same writes and no message), queues its message and saves `flow` as `shown` lays it
        out (else as the strategy shows a sent message, in state sent_email), in one transaction.
        FlowCompleted, and nothing sent, when another submission completed the flow meanwhile (a
        resend sent with the code)."""
        address = recipient.address
        mail = await self.budget.spend(address)  # spent for unknown addresses too: the same work either way
        lifespan = self.lifespan(strategy.method, recipient.via)
        async with self.uow() as uow:
            if announced and not await self.flows.take_internal(uow.connection, flow.id, AWAITING_MESSAGE, True):
                return False
            await self.flows.hold_open(uow.connection, flow.id)  # FlowCompleted: nothing issued, nothing sent
            if announced:
                flow.transient_payload = flow.internal.get(AWAITED_PAYLOAD)
            # An unknown address gets the same writes as a known one (a code nobody receives, that
            # redeems to no one), so the answer's timing does not tell whether the address has an account.
            secret = await self.codes.issue(
                uow.connection,
                flow_id=flow.id,
                kind=kind,
                method=strategy.method,
                address=address,
                via=recipient.via,
                identity_id=identity["id"] if identity is not None else None,
                lifespan=lifespan,
            )
            message = self._message(flow, kind, strategy, recipient, identity, secret, lifespan)
            if mail and message is not None:
                uow.emit(COURIER_MESSAGE_REQUESTED, message)
            if shown is None:
                strategy.after_sending(flow, kind, address, recipient.via)
                flow.state = "sent_email"
            else:
                shown(flow)
            code_owner.remember(flow, address)
            if identity is not None:  # an announced flow's message, or a resend of it: it has gone
                flow.internal.pop(AWAITING_MESSAGE, None)
                flow.internal.pop(AWAITED_PAYLOAD, None)
            await self.flows.save(uow.connection, flow, unchanged_to_its_user=announced)
            await uow.commit()
        return True

    def lifespan(self, method: str, via: str) -> timedelta:
        """How long a code or link works: by SMS, `lifespans["code/sms"]` where it is set (DESIGN §9:
        10 minutes unless the config says otherwise)."""
        return self.lifespans.get(f"{method}/{via}") or self.lifespans[method]

    def _message(
        self,
        flow: Flow,
        kind: str,
        strategy: AddressProofStrategy,
        recipient: Recipient,
        identity: dict[str, Any] | None,
        secret: str,
        lifespan: timedelta,
    ) -> MessageRequested | None:
        """The code or link for a known address; for an unknown one, a notice if the config asks
        (by email only: Kratos has no SMS template for it)."""
        # What every Kratos template model carries besides its own fields (`code/code_sender.go`).
        common = flow_template_data(flow)
        address, via = recipient.address, recipient.via
        if identity is None:
            if not self.notify_unknown.get(kind) or via != "email":
                return None
            return courier_message(strategy.template_type(kind, False), address, via, To=address, **common)
        return courier_message(
            strategy.template_type(kind, True),
            address,
            via,
            To=address,
            **common,
            Identity=public_identity(identity),
            ExpiresInMinutes=int(lifespan.total_seconds() // 60),
            **strategy.template_data(flow, kind, secret),
        )

    async def redeem(self, flow: Flow, kind: str, method: str, secret: str) -> Redeemed | None:
        """The code's record, or None; TriesUsedUp past the flow's last try (committed too)."""
        async with self.uow() as uow:
            try:
                redeemed = await self.codes.redeem(
                    uow.connection, flow_id=flow.id, kind=kind, method=method, secret=secret
                )
            except TriesUsedUp:
                await uow.commit()
                raise
            await uow.commit()  # a wrong try counts even though it fails
        return redeemed
