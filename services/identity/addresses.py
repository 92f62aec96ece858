"""Keeping an identity's derived parts (credential identifiers, verifiable and recovery addresses)
in step with its traits, through its schema. Runs on every change."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar

from services.identity.domain import Credential, CredentialType, Identity, RecoveryAddress, VerifiableAddress, now
from services.identity.schemas.normalize import normalize_email, normalize_phone

_Address = TypeVar("_Address", VerifiableAddress, RecoveryAddress)
_NORMALIZED = {"email": normalize_email, "sms": normalize_phone}


def derive(identity: Identity, schema: Any) -> Identity:
    """The identity with identifiers and addresses recomputed from its traits. Addresses that stay
    keep their id and verification status; those that left the traits go; new ones start pending."""
    return replace(
        identity,
        credentials=_credentials(identity, schema),
        verifiable_addresses=_verifiable(identity.verifiable_addresses, schema.verifiable_addresses(identity.traits)),
        recovery_addresses=_recovery(identity.recovery_addresses, schema.recovery_addresses(identity.traits)),
    )


def imported(addresses: tuple[_Address, ...]) -> tuple[_Address, ...]:
    """An import's addresses as `derive` then finds them: their values normalised as the traits'
    are. `derive` keeps those the traits hold, verified or not (Kratos's verification extension
    keeps a given address of the same value and channel, so a migration brings its users' verified
    addresses), and drops the others."""
    return tuple(replace(address, value=_NORMALIZED[address.via](address.value)) for address in addresses)


def _credentials(identity: Identity, schema: Any) -> dict[str, Credential]:
    from_schema: dict[str, list[str]] = schema.credential_identifiers(identity.traits)
    credentials = dict(identity.credentials)
    code_addresses = schema.code_addresses(identity.traits)
    if code_addresses and CredentialType.CODE not in credentials:
        # Kratos gives every identity whose schema names a code identifier a `code` credential.
        credentials[CredentialType.CODE] = Credential(type=CredentialType.CODE, identifiers=(), config={})
    if from_schema.get(CredentialType.PASSWORD) and CredentialType.PASSWORD not in credentials:
        # Kratos's too, for a password identifier: held (and so unique) before any password is set,
        # else an identity made without one (social sign-in, an import) leaves its username free
        # for a second account. With no hash it signs no one in.
        credentials[CredentialType.PASSWORD] = Credential(type=CredentialType.PASSWORD, identifiers=(), config={})
    for kind, credential in credentials.items():
        if kind not in _FROM_TRAITS:
            continue  # oidc/saml: provider:subject; totp, passkey, lookup: not trait values

        identifiers = tuple(from_schema.get(kind, ()))
        config = (
            {**credential.config, "addresses": code_addresses} if kind == CredentialType.CODE else credential.config
        )
        if identifiers != credential.identifiers or config != credential.config:
            credentials[kind] = replace(credential, identifiers=identifiers, config=config, updated_at=now())
    return credentials


_FROM_TRAITS = {CredentialType.PASSWORD, CredentialType.WEBAUTHN, CredentialType.CODE}


def _verifiable(existing: tuple[VerifiableAddress, ...], wanted: list[Any]) -> tuple[VerifiableAddress, ...]:
    known = {(a.via, a.value): a for a in existing}
    return tuple(known.get((w.via, w.value)) or VerifiableAddress(value=w.value, via=w.via) for w in _unique(wanted))


def _recovery(existing: tuple[RecoveryAddress, ...], wanted: list[Any]) -> tuple[RecoveryAddress, ...]:
    known = {(a.via, a.value): a for a in existing}
    return tuple(known.get((w.via, w.value)) or RecoveryAddress(value=w.value, via=w.via) for w in _unique(wanted))


def _unique(addresses: list[Any]) -> list[Any]:
    seen: set[tuple[str, str]] = set()
    out = []
    for address in addresses:
        if (address.via, address.value) not in seen:
            seen.add((address.via, address.value))
            out.append(address)
    return out
