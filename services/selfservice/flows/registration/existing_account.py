"""A registration whose identifiers already belong to an account, answered as a new account's would
be (checklist EN-4, ASVS 6.3.8, under `security.account_enumeration.mitigate`; enumeration.py says
for which methods and hooks).

The registrant gets a stand-in: what the identity service would make of the submission, under a
fresh id that is never stored (its admin API answers 404 for it). Nothing is created or changed,
no `identity.created` event goes out (so no verification code is ever mailed for the stand-in's
addresses), and each account holding one of the identifiers gets a `registration_attempted` notice
instead, at the addresses the attempt named (or, when it collided on a username only, at the
account's verified email addresses, else all of them), within the per-address send budget
(send_budget.py) like every other message a flow sends.

Timing: both answers pay the same work in the same order. Every registration under the mitigation
first asks who holds the would-be identifiers (the same reads, found or not). Then a new account
costs one password hash and one commit (the identity and its event); an existing one costs the same
hash (the identity service's `validate_identity` hashes the submitted password with the configured
hasher exactly as `create_identity` does, and keeps nothing) and one commit (the notice). After that
both run the same `post` hooks and close the flow with one commit. Should an account appear between
the reads and the create (a race, or a conflict on a key the reads do not cover), the create has
already paid the hash and the stand-in comes from a probe that hashes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.selfservice.codes import courier_message
from services.selfservice.send_budget import SendBudget
from services.selfservice.views import public_identity
from shared import errors
from shared.bus.events import COURIER_MESSAGE_REQUESTED
from shared.clients.ports import IdentityClient
from shared.identifiers import fold_address
from shared.storage.uow import UnitOfWorkFactory

TEMPLATE = "registration_attempted"  # services/courier/templates/registration_attempted/
# Credential types whose identifiers a password registration takes from the traits (the identity
# service derives `code` identifiers for every schema that names them).
_IDENTIFIER_TYPES = ("password", "code")
# The addresses an identity takes, by the kind the identity service looks them up by.
ADDRESS_FIELDS = (("verification", "verifiable_addresses"), ("recovery", "recovery_addresses"))


@dataclass(frozen=True)
class Registered:
    identity: dict[str, Any]
    stand_in: bool  # True: nothing was created; the identity's id exists nowhere


@dataclass(frozen=True)
class ExistingAccounts:
    identities: IdentityClient
    uow: UnitOfWorkFactory
    budget: SendBudget

    async def register(self, body: dict[str, Any], flow_id: str) -> Registered:
        """Creates the identity from `body` (a `createIdentityBody` with a clear-text password), or,
        when its identifiers belong to accounts, tells their owners and returns a stand-in. Raises
        the identity service's typed errors for invalid traits, as `create_identity` does."""
        probe = await self.identities.validate_identity(unhashed(body))
        holders = await self._holders(probe)
        if holders:
            stand_in = await self.identities.validate_identity(body)  # the hash a new account pays
            await self._notify(holders, probe)
            return Registered(stand_in, stand_in=True)
        try:
            return Registered(await self.identities.create_identity({**body, "registration_flow_id": flow_id}), False)
        except errors.Conflict:  # taken since the reads: the create paid the hash already
            await self._notify(await self._holders(probe), probe)
            return Registered(probe, stand_in=True)

    async def _holders(self, probe: dict[str, Any]) -> list[dict[str, Any]]:
        """The accounts holding any identifier or address the would-be identity takes. The same
        reads whether or not any is found: how many depends on the submission alone."""
        found: dict[str, dict[str, Any]] = {}
        credentials = probe.get("credentials") or {}
        for kind in _IDENTIFIER_TYPES:
            for identifier in (credentials.get(kind) or {}).get("identifiers") or []:
                _add(found, await self.identities.find_by_credential_identifier(kind, identifier))
        for kind, field in ADDRESS_FIELDS:
            for address in probe.get(field) or []:
                _add(found, await self.identities.find_by_address(kind, address["via"], address["value"]))
        return list(found.values())

    async def _notify(self, holders: list[dict[str, Any]], probe: dict[str, Any]) -> None:
        """One notice per owner's address, committed in one unit of work (opened even when the send
        budget leaves nothing to send: the same commit either way)."""
        named = _named(probe)
        messages = []
        for holder in holders:
            for recipient in recipients(holder, named):
                if await self.budget.spend(recipient):
                    data = public_identity(holder)
                    messages.append(courier_message(TEMPLATE, recipient, "email", To=recipient, Identity=data))
        async with self.uow() as uow:
            for message in messages:
                uow.emit(COURIER_MESSAGE_REQUESTED, message)
            await uow.commit()


def recipients(holder: dict[str, Any], named: set[str]) -> list[str]:
    """Where an owner hears of the attempt: its email addresses the attempt named; when it named
    none (a username collided), the account's verified email addresses, else all of them."""
    emails = [
        a
        for field in ("verifiable_addresses", "recovery_addresses")
        for a in holder.get(field) or []
        if a.get("via") == "email"
    ]
    chosen = [a["value"] for a in emails if fold_address(a["value"]) in named]
    chosen = chosen or [a["value"] for a in emails if a.get("verified")] or [a["value"] for a in emails]
    return list(dict.fromkeys(chosen))


def _named(probe: dict[str, Any]) -> set[str]:
    """Every identifier and address of the would-be identity, folded as the identity service folds them."""
    values = [a["value"] for _kind, field in ADDRESS_FIELDS for a in probe.get(field) or []]
    values += [i for c in (probe.get("credentials") or {}).values() for i in c.get("identifiers") or []]
    return {fold_address(v) for v in values}


def unhashed(body: dict[str, Any]) -> dict[str, Any]:
    """The body with its password left out of the reckoning: the identity service derives the
    password credential's identifiers from the traits and hashes nothing (a credential awaiting the
    password migration hook needs no secret)."""
    return {**body, "credentials": {"password": {"config": {"use_password_migration_hook": True}}}}


def _add(found: dict[str, dict[str, Any]], identity: dict[str, Any] | None) -> None:
    if identity is not None:
        found.setdefault(identity["id"], identity)
