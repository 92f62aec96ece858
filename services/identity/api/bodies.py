"""Request bodies of the identity admin API, parsed at the edge (pydantic) into plain inputs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from services.identity.domain import State
from services.identity.errors import MalformedBody
from services.identity.manager import IdentityInput


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CreateIdentityBody(_Body):
    schema_id: str | None = None
    traits: dict[str, Any]
    state: State | None = None
    metadata_public: Any = None
    metadata_admin: Any = None
    external_id: str | None = None
    credentials: dict[str, Any] | None = None

    def to_input(self) -> IdentityInput:
        return IdentityInput(
            traits=self.traits,
            schema_id=self.schema_id,
            state=self.state,
            metadata_public=self.metadata_public,
            metadata_admin=self.metadata_admin,
            external_id=self.external_id,
            credentials=self.credentials,
        )


class UpdateIdentityBody(CreateIdentityBody):
    schema_id: str  # type: ignore[assignment]
    state: State  # type: ignore[assignment]


class IdentityPatch(_Body):
    create: CreateIdentityBody | None = None
    patch_id: str | None = None


class PatchIdentitiesBody(_Body):
    identities: list[dict[str, Any]]


def parse(model: type[_Body], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise MalformedBody(f"{where}: {first['msg']}") from exc
