"""`selfservice.flows.registration.login_hints`: a registration whose identifier already belongs to
an account tells the registrant how that account signs in (Kratos's 4000028, "You tried signing in
with … which is already in use by another account. You can sign in using …"), where it would
otherwise say only that the identifier is taken (4000007).

Kratos's `identity.Manager.findExistingAuthMethod`: the account is the first that holds one of the
would-be identity's credential identifiers, else one of its verification addresses, else one of
its recovery addresses; the hint names the value that collided (a social sign-in subject is never
named). The account's ways in, by credential type in name order: `password` when it has a hash
(or awaits the password migration hook while the hook is on: the identity service's `usable`),
`code`, `oidc` with its providers, `passkey`, and `webauthn` when a key signs in without a
password. Second factors tell the registrant nothing about how to sign in, and are left out.

A hint names only what the registrant typed: the value that collided is always one of theirs.
But the ways in are the account's own, so hints are never given while
`security.account_enumeration.mitigate` is on (enumeration.py decides), even for the methods that
mitigation cannot hide: there the registrant keeps hearing 4000007 and nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.selfservice.flows.registration.existing_account import ADDRESS_FIELDS, unhashed
from shared import errors, text
from shared.aal import passwordless_key
from shared.clients.ports import IdentityClient
from shared.text.message import Message


@dataclass(frozen=True)
class Hints:
    credential_types: tuple[str, ...]
    oidc_providers: tuple[str, ...]
    identifier: str

    def message(self) -> Message:
        return text.identifier_exists_with_hints(self.credential_types, self.oidc_providers, self.identifier)


@dataclass(frozen=True)
class Collision:
    """The account a refused `createIdentityBody` collided with, and the kind and value it collided on."""

    holder: dict[str, Any]
    kind: str
    value: str


async def collision(identities: IdentityClient, body: dict[str, Any]) -> Collision | None:
    """What a `createIdentityBody` the identity service refused as taken collided with, or None (the
    holder is gone since). Social sign-in links to that account alone (oidc/flows.py)."""
    try:
        probe = await identities.validate_identity(unhashed(body))
    except errors.BadRequest:
        return None
    found = await _holder(identities, probe)
    return Collision(*found) if found is not None else None


@dataclass(frozen=True)
class LoginHints:
    identities: IdentityClient

    def for_collision(self, found: Collision | None) -> Hints | None:
        """The hints for a registration that collided with `found`, or None (the holder is gone
        since, or there is nothing to tell: the registrant then hears 4000007)."""
        if found is None:
            return None
        hints = _hints(found.holder, "" if found.kind == "oidc" else found.value.strip())
        return hints if hints.credential_types or hints.oidc_providers or hints.identifier else None


async def _holder(identities: IdentityClient, probe: dict[str, Any]) -> tuple[dict[str, Any], str, str] | None:
    """The account holding one of the probe's identifiers or addresses, in Kratos's order, with the
    kind and value that collided."""
    for kind, credential in (probe.get("credentials") or {}).items():
        for identifier in (credential or {}).get("identifiers") or []:
            if (holder := await identities.find_by_credential_identifier(kind, identifier)) is not None:
                return holder, kind, identifier
    for kind, field in ADDRESS_FIELDS:
        for address in probe.get(field) or []:
            holder = await identities.find_by_address(kind, address["via"], address["value"])
            if holder is not None:
                return holder, address["via"], address["value"]
    return None


def _hints(holder: dict[str, Any], identifier: str) -> Hints:
    types: list[str] = []
    providers: list[str] = []
    for kind, credential in sorted((holder.get("credentials") or {}).items()):
        if not isinstance(credential, Mapping):
            continue
        identifiers = [i for i in credential.get("identifiers") or [] if isinstance(i, str)]
        if kind == "password":
            if not identifier and len(identifiers) == 1:
                identifier = identifiers[0]
            if credential.get("usable", True):  # a password credential may hold identifiers and no hash
                types.append(kind)
        elif kind == "code":
            types.append(kind)
        elif kind == "oidc":
            types.append(kind)
            providers.extend(sorted(i.split(":", 1)[0] for i in identifiers))
        elif kind in ("passkey", "webauthn") and _signs_in_alone(kind, credential):
            types.append(kind)
    return Hints(tuple(types), tuple(providers), identifier)


def _signs_in_alone(kind: str, credential: Mapping[str, Any]) -> bool:
    keys = (credential.get("config") or {}).get("credentials")
    return isinstance(keys, list) and any(kind == "passkey" or passwordless_key(k) for k in keys)
