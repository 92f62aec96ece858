"""Request bodies of the identity admin API, parsed at the edge (pydantic) into plain inputs."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, ValidationError

from services.identity.api.credential_configs import check_types
from services.identity.domain import MAX_EXTERNAL_ID_LENGTH, Metadata, State
from services.identity.errors import MalformedBody
from services.identity.manager import IdentityInput


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CredentialBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    config: dict[str, Any] | None = None


class CreateIdentityBody(_Body):
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
            credentials=None
            if self.credentials is None
            else {k: v and {**(v.model_extra or {}), "config": v.config} for k, v in self.credentials.items()},
        )


class UpdateIdentityBody(CreateIdentityBody):
    schema_id: str
    state: State


class IdentityPatch(_Body):
    create: CreateIdentityBody | None = None
    patch_id: UUID | None = None


class PatchIdentitiesBody(_Body):
    # Like Kratos's strict decoder, a malformed item (not an object, a bad patch_id, a create that is
    # not an identity body) fails the whole request; only semantic errors are answered per item.
    identities: list[IdentityPatch]


def check_external_id(value: str | None) -> None:
    if value is not None and len(value) > MAX_EXTERNAL_ID_LENGTH:
        raise MalformedBody(f"external_id: must be at most {MAX_EXTERNAL_ID_LENGTH} characters, not {len(value)}")


def parse(model: type[_Body], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise MalformedBody(f"{where}: {first['msg']}") from exc
