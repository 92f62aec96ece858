"""`notify_previous_addresses` (`selfservice.flows.settings.after.profile.hooks`): when a settings
change alters the identity's verifiable addresses, the addresses it had before hear of it, so that
an owner whose account was taken over and moved to another address notices (Kratos's
`hook/notify_previous_addresses.go`).

`config.recipients` says who is told: `removed` (Kratos's default) the addresses the change took
away, `all_verified` every address that was verified before it, `all` every address it had. Nothing
goes out unless the set of (via, value) pairs changed: an address becoming verified is no change.
Each recipient gets a `verifiable_address_changed` message (email or SMS, by the address's `via`)
with Kratos's template model: `To`, `Identity` (the updated identity), `ChangedAt` (RFC 3339, UTC)
and `TransientPayload`.

The change is saved before this hook runs, and the notices commit on their own: a notice that could
not be queued does not undo it. An address that was verified gets its notice whatever the per-address
send budget says (send_budget.py): someone holding the account could otherwise use up that budget,
by asking for codes to the address, and then move the account away unheard. An unverified address
was never shown to be the owner's, and anyone may type one into their profile, so a notice to it
spends from the budget like any other message a flow sends there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from services.selfservice.codes import courier_message, flow_template_data
from services.selfservice.hooks.registry import Hook, HookContext
from services.selfservice.send_budget import SendBudget
from services.selfservice.views import public_identity
from shared.bus.events import COURIER_MESSAGE_REQUESTED, MessageRequested
from shared.storage.uow import UnitOfWorkFactory

NAME = "notify_previous_addresses"
TEMPLATE = "verifiable_address_changed"  # services/courier/templates/verifiable_address_changed/
REMOVED, ALL_VERIFIED, ALL = "removed", "all_verified", "all"
CHANNELS = ("email", "sms")  # the `via`s the courier can reach


class NoticeDependencies(Protocol):
    @property
    def uow(self) -> UnitOfWorkFactory: ...

    @property
    def send_budget(self) -> SendBudget: ...


def notify_previous_addresses(deps: NoticeDependencies, config: dict[str, Any]) -> Hook:
    recipients = config.get("recipients") or REMOVED

    async def run(ctx: HookContext) -> None:
        if ctx.previous is None:  # not a settings change
            return
        targets = [a for a in notified(recipients, ctx.previous, ctx.identity) if a.get("via") in CHANNELS]
        messages = [_notice(ctx, a) for a in targets if a.get("verified") or await deps.send_budget.spend(a["value"])]
        if not messages:
            return
        async with deps.uow() as uow:
            for message in messages:
                uow.emit(COURIER_MESSAGE_REQUESTED, message)
            await uow.commit()

    return Hook(NAME, "post", run)


def notified(recipients: str, previous: dict[str, Any], updated: dict[str, Any]) -> list[dict[str, Any]]:
    """The previous addresses that hear of the change, in the identity's order; none when the
    addresses are the same (via, value) pairs as before."""
    before = previous.get("verifiable_addresses") or []
    after = [_key(a) for a in updated.get("verifiable_addresses") or []]
    if len(before) == len(after) and set(after) <= {_key(a) for a in before}:
        return []
    if recipients == ALL:
        return list(before)
    if recipients == ALL_VERIFIED:
        return [a for a in before if a.get("verified")]
    kept = set(after)
    return [a for a in before if _key(a) not in kept]


def _key(address: dict[str, Any]) -> tuple[str, str]:
    return str(address.get("via")), str(address.get("value"))


def _notice(ctx: HookContext, address: dict[str, Any]) -> MessageRequested:
    return courier_message(
        TEMPLATE,
        address["value"],
        address["via"],
        To=address["value"],
        **flow_template_data(ctx.flow),
        Identity=public_identity(ctx.identity),
        ChangedAt=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
