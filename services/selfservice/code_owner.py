"""Guesses at a one-time code count against the account it was sent for, not only against its flow.

A flow allows `max_attempts` tries (codes.py), but a new flow is one request away: without this, an
attacker rotating client addresses could guess a recovery or sign-in code without end (checklist
BF-1, OTP-4). The flow remembers, server-side and never in its JSON, whose code it sent; each guess
reserves an attempt on that identity's per-identifier throttle (the one passwords and second
factors use: blocked past its free failures, TooManyRequests meanwhile), and a right code takes
it back. A code for an address without an account counts against a stand-in, derived from the
address, exactly as often and with the same work: the throttle answers alike whether or not the
address has an account, so neither its refusals nor its timing tell.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from services.selfservice.flows.flow import Flow
from shared.clients.ports import IdentityClient

OWNER = "code_owner"  # flow.internal: the id of the identity the flow's codes were sent for
_STAND_INS = uuid.UUID("3f0c8a5e-5a57-4c55-9c53-7d2a2b3c9e41")  # namespace of stand-in owners

_R = TypeVar("_R")


def remember(flow: Flow, identity: dict[str, Any] | None, address: str) -> None:
    """Before the flow is saved with its new code: whose code it is (`identity` None: no account's)."""
    flow.internal[OWNER] = identity["id"] if identity is not None else stand_in(address)


def stand_in(address: str) -> str:
    """The id an address without an account is throttled under: the same for the same address."""
    return str(uuid.uuid5(_STAND_INS, address))


async def counted(identities: IdentityClient, flow: Flow, redeem: Callable[[], Awaitable[_R | None]]) -> _R | None:
    """`redeem()`'s result, the guess counted against the flow's account first."""
    owner = flow.internal.get(OWNER)
    if owner:
        await identities.second_factor_attempt(owner, "check")
    redeemed = await redeem()
    if owner and redeemed is not None:
        await identities.second_factor_attempt(owner, "succeeded")
    return redeemed
