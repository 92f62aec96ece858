"""Sending one-time codes for login and registration (Kratos's `code/code_sender.go`), and checking
what comes back: the one place the code method (first factor now, second factor for MFA) issues,
sends and redeems its codes, on top of `services/selfservice/codes.py`.

A send writes the code's HMAC, the courier command and the flow's new state in one transaction.
An address with no account gets the same writes (a stand-in code that redeems to no one) and no
message, unless `notify_unknown_recipients` asks for a notice, so neither the answer nor its timing
tells whether the address is known. Every new code of a flow waits `resend_after` after the last;
that wait is read from the flow's own codes (the newest one's creation), under the same row lock
that issues the next, so it holds under concurrency and without Redis.

A second factor by code uses the same calls: `send(flow, "login", [address], identity)` and
`redeem(flow, "login", code)`, then checks that the redeemed identity is the session's.

Every send is `admit`ted first, on the client's `rate_limits.per_ip.code_send` window, the window
recovery and verification messages count on (address_flow.py, verifier.py): past it the submission
is refused (TooManyRequests: 429, or the flow with 4290001) before the flow changes, anything is
looked up or anything is sent. Without it a client could have Warden text a new number of its
choosing at every login or sign-up (SMS pumping); the budget per address does not stop that."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from services.selfservice.codes import (
    ANYONE,
    CODE,
    MAX_ATTEMPTS,
    Anyone,
    OneTimeCodes,
    Recipient,
    Redeemed,
    ResendTooSoon,
    TriesUsedUp,
    courier_message,
    flow_template_data,
)
from services.selfservice.config import written
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.persistence import FlowRepository
from services.selfservice.send_budget import SendBudget
from services.selfservice.views import public_identity
from shared import errors
from shared.bus.events import COURIER_MESSAGE_REQUESTED
from shared.http.client_ip import client_ip
from shared.ratelimit.limits import ClientLimits
from shared.storage.uow import UnitOfWorkFactory
from shared.units import parse_duration

RESEND_AFTER = timedelta(seconds=30)  # one new code per flow per 30 s: a form cannot be used to flood a mailbox

# Kratos's template types and the template field that carries the code, by flow kind.
VALID_TEMPLATES = {
    "login": ("login_code_valid", "LoginCode"),
    "registration": ("registration_code_valid", "RegistrationCode"),
}


@dataclass(frozen=True)
class CodeLifespans:
    """`selfservice.methods.code.config.lifespan` when the config sets it; else Warden's defaults
    (DESIGN §9): 10 minutes for login codes and anything by SMS, 15 for other email codes."""

    configured: timedelta | None = None

    def of(self, kind: str, via: str) -> timedelta:
        if self.configured is not None:
            return self.configured
        return timedelta(minutes=10 if kind == "login" or via == "sms" else 15)


@dataclass(frozen=True)
class CodeSender:
    uow: UnitOfWorkFactory
    flows: FlowRepository
    codes: OneTimeCodes
    lifespans: CodeLifespans
    budget: SendBudget  # messages per address (mail bombing)
    limits: ClientLimits  # messages per client (`code_send`): the flow engine's windows, not a second limiter
    resend_after: timedelta = RESEND_AFTER
    notify_unknown: bool = False

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        uow: UnitOfWorkFactory,
        flows: FlowRepository,
        pepper: str,
        budget: SendBudget,
        limits: ClientLimits,
    ) -> CodeSender:
        """`selfservice.methods.code.config`: `lifespan`, `max_submissions` (tries per flow, Kratos's
        default 5) and Warden's `notify_unknown_recipients` (a notice to an identifier without an
        account, as the recovery and verification flows have)."""
        config = settings.get("selfservice.methods.code.config") or {}
        lifespan = written(settings, "selfservice.methods.code.config.lifespan")
        return cls(
            uow,
            flows,
            OneTimeCodes(flows.t.codes, pepper, max_attempts=int(config.get("max_submissions") or MAX_ATTEMPTS)),
            CodeLifespans(parse_duration(lifespan) if lifespan else None),
            budget,
            limits,
            notify_unknown=bool(config.get("notify_unknown_recipients")),
        )

    async def admit(self, messages: int = 1) -> None:
        """Counts `messages` on the calling client's `code_send` window, as `FlowEngine.limit` does
        for recovery and verification; TooManyRequests past it. Called before a send changes the
        flow or looks anything up, so that a refusal is the same answer, after the same work, for an
        identifier with an account and one without; and counted alike whether the send then queues
        a code, a notice or nothing (an unknown identifier, an address past its budget, a resend
        too soon), so that the count does not tell either. `messages`: one per address the
        submission names (a sign-in identifier is one, however many addresses of an account it
        reaches)."""
        for _ in range(messages):
            await self.limits.check_ip("code_send", client_ip.get())

    async def send(
        self,
        flow: Flow,
        kind: str,
        recipients: Sequence[Recipient],
        identity: dict[str, Any] | None,
        *,
        known: bool = True,
        traits: dict[str, Any] | None = None,
    ) -> None:
        """Issues a code per recipient and saves `flow` (already showing the code form; the send
        `admit`ted first). `known=False` is an identifier without an account: stand-in codes, and
        no message unless notifying. FlowCompleted, and nothing sent, when another submission
        completed the flow meanwhile."""
        template, field = VALID_TEMPLATES[kind]
        async with self.uow() as uow:
            await self.flows.hold_open(uow.connection, flow.id)  # FlowCompleted: nothing issued, nothing sent
            lifespan = min(self.lifespans.of(kind, r.via) for r in recipients)
            try:
                secrets = await self.codes.issue_each(
                    uow.connection,
                    flow_id=flow.id,
                    kind=kind,
                    method=CODE,
                    recipients=recipients,
                    identity_id=(identity or {}).get("id") if known else None,
                    lifespan=lifespan,
                    resend_after=self.resend_after,
                )
            except ResendTooSoon as exc:
                raise errors.TooManyRequests(
                    exc.retry_after, f"A new code can be requested in {exc.retry_after} seconds."
                ) from None
            for recipient, secret in zip(recipients, secrets, strict=True):
                data: dict[str, Any] = {"To": recipient.address, **flow_template_data(flow)}
                if not await self.budget.spend(recipient.address):
                    continue  # the address had its share: the flow goes on as if it was sent
                if not known:
                    if self.notify_unknown and recipient.via in ("email", "sms"):
                        uow.emit(
                            COURIER_MESSAGE_REQUESTED,
                            courier_message(f"{kind}_code_invalid", recipient.address, recipient.via, **data),
                        )
                    continue
                data |= {field: secret, "ExpiresInMinutes": int(lifespan.total_seconds() // 60)}
                if identity is not None:
                    data["Identity"] = public_identity(identity)
                if traits is not None:
                    data["Traits"] = traits
                uow.emit(COURIER_MESSAGE_REQUESTED, courier_message(template, recipient.address, recipient.via, **data))
            await self.flows.save(uow.connection, flow)
            await uow.commit()

    async def redeem(self, flow: Flow, kind: str, code: str, owner: str | None | Anyone = ANYONE) -> Redeemed | None:
        """The code's record if it is right and usable (and, given an `owner`, was sent for that
        identity: see OneTimeCodes.redeem); the try counts (and is committed) either way, a try past
        the flow's last too (TriesUsedUp)."""
        async with self.uow() as uow:
            try:
                redeemed = await self.codes.redeem(
                    uow.connection, flow_id=flow.id, kind=kind, method=CODE, secret=code, owner=owner
                )
            except TriesUsedUp:
                await uow.commit()
                raise
            await uow.commit()
        return redeemed
