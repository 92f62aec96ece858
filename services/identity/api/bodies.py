"""Request bodies of the identity admin API, parsed at the edge (pydantic) into plain inputs."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, StrictBool, ValidationError

from services.identity.api.credential_configs import check_types
from services.identity.domain import MAX_EXTERNAL_ID_LENGTH, Metadata, RecoveryAddress, State, VerifiableAddress, now
from services.identity.errors import MalformedBody
from services.identity.manager import IdentityInput


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CredentialBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    config: dict[str, Any] | None = None


class ImportedVerifiableAddress(_Body):
    """Kratos's `verifiableIdentityAddress`, as an import gives it: its id and timestamps are the
    server's (a given id could be another identity's), so they are not read."""

    value: str
    via: Literal["email", "sms"]
    verified: StrictBool  # a string "false" must not verify an address
    status: Literal["pending", "sent", "completed"]
    verified_at: AwareDatetime | None = None

    def to_address(self) -> VerifiableAddress:
        verified_at = self.verified_at or (now() if self.verified else None)
        return VerifiableAddress(
            value=self.value, via=self.via, verified=self.verified, status=self.status, verified_at=verified_at
        )


class ImportedRecoveryAddress(_Body):
    value: str
    via: Literal["email", "sms"]


class _IdentityBody(BaseModel):
    """What a create and a full update share. Kratos decodes both strictly: a field it does not know
    at the top (a typo, or a whole identity sent back from a GET) is a 400, not silently dropped."""

    model_config = ConfigDict(extra="forbid")
    schema_id: str | None = None
    traits: dict[str, Any]
    state: State | None = None
    metadata_public: Metadata = None
    metadata_admin: Metadata = None
    # Its length is checked by `to_input`, not by a constraint here: in a batch, an over-long one is
    # that item's error, and a model that fails to parse fails the whole request.
    external_id: str | None = None
    # Each credential is an object whose `config` is an object (or absent): anything else is a 400 here.
    credentials: dict[str, CredentialBody | None] | None = None
    region: str | None = None  # Ory Network's data region: taken, as Kratos takes it, and not used

    def to_input(self) -> IdentityInput:
        """The input, or MalformedBody for what the shape alone does not say: in a batch, that
        item's answer alone."""
        check_external_id(self.external_id)
        for kind, credential in (self.credentials or {}).items():
            check_types(kind, credential.config if credential else None)
        return IdentityInput(
            traits=self.traits,
            schema_id=self.schema_id,
            state=self.state,
            metadata_public=self.metadata_public,
            metadata_admin=self.metadata_admin,
            external_id=self.external_id,
            credentials=self.credentials_given(),
        )

    def credentials_given(self) -> dict[str, Any] | None:
        """The credentials as plain JSON, as the manager takes them."""
        if self.credentials is None:
            return None
        return {k: v and {**(v.model_extra or {}), "config": v.config} for k, v in self.credentials.items()}


class CreateIdentityBody(_IdentityBody):
    # An import's addresses: kept, verified or not, where the traits hold them.
    verifiable_addresses: list[ImportedVerifiableAddress] | None = None
    recovery_addresses: list[ImportedRecoveryAddress] | None = None
    organization_id: UUID | None = None

    def to_input(self) -> IdentityInput:
        return replace(
            super().to_input(),
            verifiable_addresses=tuple(a.to_address() for a in self.verifiable_addresses or ()),
            recovery_addresses=tuple(RecoveryAddress(value=a.value, via=a.via) for a in self.recovery_addresses or ()),
            organization_id=str(self.organization_id) if self.organization_id else None,
        )


class UpdateIdentityBody(_IdentityBody):
    schema_id: str
    state: State


class IdentityPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    create: CreateIdentityBody | None = None
    patch_id: UUID | None = None


class PatchIdentitiesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Like Kratos's strict decoder, a malformed item (not an object, a bad patch_id, a create that is
    # not an identity body) fails the whole request; only semantic errors are answered per item.
    identities: list[IdentityPatch]


def check_external_id(value: str | None) -> None:
    if value is not None and len(value) > MAX_EXTERNAL_ID_LENGTH:
        raise MalformedBody(f"external_id: must be at most {MAX_EXTERNAL_ID_LENGTH} characters, not {len(value)}")


def parse(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "extra_forbidden":  # in the words of Kratos's strict decoder
            raise MalformedBody(f'json: unknown field "{first["loc"][-1]}"') from exc
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise MalformedBody(f"{where}: {first['msg']}") from exc
