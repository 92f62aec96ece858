"""An identity in Kratos's JSON: the admin view (metadata_admin, credentials without secrets) and the
public view (what whoami embeds: no credentials, no admin metadata)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from services.identity.domain import (
    SECRET_CONFIG_FIELDS,
    Credential,
    CredentialType,
    Identity,
    RecoveryAddress,
    VerifiableAddress,
)
from shared.cipher import Cipher, DecryptionFailed

SchemaUrl = Callable[[str], str]


def ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def admin_view(
    identity: Identity,
    schema_url: SchemaUrl,
    include_credentials: Iterable[str] = (),
    cipher: Cipher | None = None,
) -> dict[str, Any]:
    """`cipher`, given by the admin API, decrypts the social sign-in tokens an operator asked for by
    name (`include_credential=oidc`), as Kratos does; nothing else ever shows them."""
    body = public_view(identity, schema_url)
    body["metadata_admin"] = identity.metadata_admin
    included = set(include_credentials)
    body["credentials"] = {
        kind: _credential(c, kind in included, cipher) for kind, c in sorted(identity.credentials.items())
    }
    return body


def public_view(identity: Identity, schema_url: SchemaUrl) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": identity.id,
        "schema_id": identity.schema_id,
        "schema_url": schema_url(identity.schema_id),
        "state": identity.state.value,
        "traits": identity.traits,
        "verifiable_addresses": [_verifiable(a) for a in identity.verifiable_addresses],
        "recovery_addresses": [_recovery(a) for a in identity.recovery_addresses],
        "metadata_public": identity.metadata_public,
        "created_at": ts(identity.created_at),
        "updated_at": ts(identity.updated_at),
        "organization_id": identity.organization_id,
    }
    if identity.state_changed_at is not None:
        body["state_changed_at"] = ts(identity.state_changed_at)
    if identity.external_id:
        body["external_id"] = identity.external_id
    return body


def _credential(credential: Credential, with_config: bool, cipher: Cipher | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": credential.type,
        "identifiers": list(credential.identifiers),
        "version": credential.version,
        "created_at": ts(credential.created_at),
        "updated_at": ts(credential.updated_at),
    }
    if with_config:
        # Warden never sends password hashes, TOTP seeds or recovery codes, even here.
        body["config"] = credential.public_config()
        if cipher is not None and credential.type in (CredentialType.OIDC, CredentialType.SAML):
            body["config"]["providers"] = [_tokens(p, cipher) for p in credential.config.get("providers") or []]
    return body


def _tokens(provider: dict[str, Any], cipher: Cipher) -> dict[str, Any]:
    shown = dict(provider)
    for key in SECRET_CONFIG_FIELDS[CredentialType.OIDC]:
        if shown.get(key):
            try:
                shown[key] = cipher.decrypt(str(shown[key]))
            except DecryptionFailed:  # its secrets.cipher entry was rotated away: nothing to show
                shown.pop(key)
    return shown


def _verifiable(address: VerifiableAddress) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": address.id,
        "value": address.value,
        "verified": address.verified,
        "via": address.via,
        "status": address.status,
        "created_at": ts(address.created_at),
        "updated_at": ts(address.updated_at),
    }
    if address.verified_at is not None:
        body["verified_at"] = ts(address.verified_at)
    return body


def _recovery(address: RecoveryAddress) -> dict[str, Any]:
    return {
        "id": address.id,
        "value": address.value,
        "via": address.via,
        "created_at": ts(address.created_at),
        "updated_at": ts(address.updated_at),
    }
