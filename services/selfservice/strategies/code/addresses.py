"""The addresses a code for a known identity may go to, and which of them a submission names: one
reading for passwordless login (login.py), the refresh login's address picker (refresh.py), the
code as a second factor (mfa.py) and recovery by a chosen address, so that they compare addresses
alike."""

from __future__ import annotations

import re
from collections.abc import Sequence

from services.selfservice.codes import Recipient
from shared.clients.ports import IdentityClient
from shared.identifiers import fold, fold_address

PHONE = re.compile(r"^\+?[0-9]{6,15}$")
_PHONE_PUNCTUATION = re.compile(r"[\s\-().]")


async def code_addresses(identities: IdentityClient, identity_id: str) -> list[Recipient]:
    """The addresses of the identity's code credential (Kratos's `CredentialsCode.addresses`): where
    a sign-in code for it goes."""
    credential = await identities.get_credential(identity_id, "code") or {}
    stored = (credential.get("config") or {}).get("addresses") or []
    return [Recipient(a["address"], a["channel"]) for a in stored if a.get("address") and a.get("channel")]


def named(offered: Sequence[Recipient], value: str) -> Recipient | None:
    """The offered address that `value` names, as the code method stores addresses (normalized), or
    None: a value that is none of them gets no code."""
    wanted = normalized(value)
    return next((r for r in offered if normalized(r.address) == wanted), None) if wanted else None


def channel_of(identifier: str) -> str:
    """How a code would reach an identifier (as normalized) that is no known address: email, SMS, or
    not at all ("none", a username). A notice for an address without an account goes by email only."""
    if "@" in identifier:
        return "email"
    return "sms" if PHONE.fullmatch(identifier) else "none"


def normalized(identifier: str) -> str:
    """Kratos's GracefulNormalization, as the identity service stores code addresses: a phone number
    in E.164 (digits and a leading +), an email address folded as addresses are, anything else
    folded as identifiers are (`shared/identifiers.py`)."""
    compact = _PHONE_PUNCTUATION.sub("", identifier)
    if PHONE.fullmatch(compact):
        return compact
    return fold_address(identifier) if "@" in identifier else fold(identifier)
