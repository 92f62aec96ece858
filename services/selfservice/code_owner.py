"""Guesses at a one-time code count against the address it was sent to, not only against its flow.

A flow allows `max_attempts` tries (codes.py), but a new flow is one request away: without this, an
attacker rotating client addresses could guess a recovery or sign-in code without end (checklist
BF-1, OTP-4). The flow remembers, server-side and never in its JSON, where its code went; each guess
reserves an attempt on that address's code throttle, from the guessing client's IP: the password
throttle's rules (blocks per client, a ceiling, a lockout past 100 in a row) on keys of its own,
so that the owner's inbox can end a password lockout. A right code clears the address's counts,
its password ones and those of the account it proved. The keys are the address's whether or not it
has an account, so the throttle's answers cannot tell the two apart; and they are per client, so
an attacker's wrong guesses block the attacker, not the owner's right code, until the lockout.

A sign-in code names an account, not an address: its guesses count against the account (`ACCOUNT`),
so that one with an email, a phone and a username does not get three caps; an identifier without
an account counts against its stand-in, alone, as a known account's only identifier would.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from services.selfservice.codes import Redeemed
from services.selfservice.flows.flow import Flow
from shared.clients.ports import IdentityClient
from shared.http.client_ip import client_ip

OWNER = "code_owner"  # flow.internal: the address the flow's codes were sent to
OWNERS = "code_owners"  # flow.internal: the addresses, when its codes went to several (a sign-up's)
ACCOUNT = "code_account"  # flow.internal: the account a sign-in code was sent for, or a stand-in's id
_STAND_INS = uuid.UUID("3f0c8a5e-5a57-4c55-9c53-7d2a2b3c9e41")  # namespace of stand-in owners


def remember(flow: Flow, address: str, account: str | None = None) -> None:
    """Before the flow is saved with its new code: where the code went (the identifier typed, for
    a sign-in code sent to every address of the account that identifier names), and for a sign-in
    code the account's id (a stand-in's for an identifier without one), which its guesses count
    against."""
    flow.internal[OWNER] = address
    if account:
        flow.internal[ACCOUNT] = account
    else:
        flow.internal.pop(ACCOUNT, None)


def remember_all(flow: Flow, addresses: list[str]) -> None:
    """As `remember`, for a flow whose codes went to several addresses (a sign-up by code sends one
    to each code address of the traits): a guess counts against each, or an attacker after one of
    them could give the others a new value per flow and guess without end."""
    flow.internal[OWNERS] = sorted(set(addresses))


def stand_in(address: str) -> str:
    """An id for an address without an account, so that looking up its addresses costs what an
    account's does: the same for the same address."""
    return str(uuid.uuid5(_STAND_INS, address))


async def counted(
    identities: IdentityClient, flow: Flow, redeem: Callable[[], Awaitable[Redeemed | None]]
) -> Redeemed | None:
    """`redeem()`'s result, the guess counted against the flow's address (a sign-in code's account) first."""
    owner, account = flow.internal.get(OWNER), flow.internal.get(ACCOUNT)
    addresses = [owner] if owner else list(flow.internal.get(OWNERS) or [])
    for address in addresses:
        await identities.code_attempt(address, "check", client_ip.get(), account if owner else None)
    redeemed = await redeem()
    if redeemed is not None:
        # Of several addresses, only the one whose code came back is proven: clearing the others'
        # counts (a password lockout among them) would let a code to one's own phone clear them.
        for address in [owner] if owner else [a for a in addresses if a == redeemed.address]:
            await identities.code_attempt(address, "succeeded", client_ip.get(), redeemed.identity_id)
    return redeemed
