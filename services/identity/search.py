"""`GET /admin/identities?credentials_identifier=`: an identifier as an admin types it, matched as
Kratos matches it (`ListIdentities`): normalised for the methods whose identifiers are stored
normalised, as given for the others (a social sign-in's `provider:subject`, whose subject is
case-sensitive).

Password and WebAuthn identifiers are stored `graceful` (E.164 or folded: NFKC, case-folded); a
login code's email address is lower-cased instead (`schemas/derive.py`). "Someone@Example.com"
is looked up in each of those forms, and as given; an identity is kept only when one of its
credentials holds the form its method stores, so that the folded form of a subject never finds
another account's social sign-in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from services.identity.domain import CredentialType, Identity
from services.identity.schemas.normalize import graceful, normalize_email

NORMALISED = frozenset({CredentialType.PASSWORD, CredentialType.WEBAUTHN, CredentialType.CODE})


class IdentityLister(Protocol):
    async def list(self, *, after: str | None, size: int, identifier: str | None = None) -> Sequence[Identity]: ...


async def find_by_identifier(identities: IdentityLister, searched: str, size: int) -> list[Identity]:
    given = searched.strip()
    stored = {graceful(given), normalize_email(given)}
    found: dict[str, Identity] = {}
    for form in sorted(stored | {given}):
        for identity in await identities.list(after=None, size=size, identifier=form):
            if _holds(identity, given, stored):
                found[identity.id] = identity
    return [found[key] for key in sorted(found)]


def _holds(identity: Identity, given: str, stored: set[str]) -> bool:
    return any(
        not stored.isdisjoint(credential.identifiers) if kind in NORMALISED else given in credential.identifiers
        for kind, credential in identity.credentials.items()
    )
