"""The identity schemas of `identity.schemas`, read and checked once, when the service starts."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from shared.config import Settings, read_schema_document
from shared.errors import ConfigError

from .errors import SchemaNotFound, UnknownSchema
from .meta import identity_schema_problem, meta_validator
from .schema import IdentitySchema

SCHEMAS_KEY = "identity.schemas"
DEFAULT_KEY = "identity.default_schema_id"
SCHEMAS_PATH = "schemas"  # Kratos's `schema.SchemasPath`


@dataclass(frozen=True)
class SchemaRegistry:
    schemas: tuple[IdentitySchema, ...]  # config order
    default_id: str
    public_base_url: str  # `serve.public.base_url`, for `schema_url`

    @classmethod
    def from_settings(cls, settings: Settings) -> SchemaRegistry:
        """Read every configured schema and check it against Kratos's identity meta-schema.

        Raises ConfigError naming the key (`identity.schemas[1].url: ...`) for a schema that cannot
        be read, is remote, or is not a valid identity schema."""
        entries = settings.get(SCHEMAS_KEY) or []
        if not entries:
            raise ConfigError(f"config: {SCHEMAS_KEY}: at least one identity schema is required")
        meta = meta_validator()
        schemas = tuple(_load(index, entry, settings, meta) for index, entry in enumerate(entries))
        _check_unique([schema.id for schema in schemas])
        default_id = settings.get(DEFAULT_KEY) or "default"
        if default_id not in {schema.id for schema in schemas}:
            raise ConfigError(f"config: {DEFAULT_KEY}: no schema in {SCHEMAS_KEY} has id {default_id!r}")
        return cls(schemas, default_id, settings.serve.public.base_url)

    def get(self, schema_id: str) -> IdentitySchema:
        """The schema with this id ("" means the default one). Raises UnknownSchema (400)."""
        wanted = schema_id or self.default_id
        for schema in self.schemas:
            if schema.id == wanted:
                return schema
        raise UnknownSchema(wanted)

    def get_by_public_id(self, public_id: str) -> IdentitySchema:
        """For `GET /schemas/{id}`: the id as configured, or base64url-encoded as in `schema_url`
        (Kratos tries the plain id first). Raises SchemaNotFound (404)."""
        for candidate in (public_id, _decode(public_id)):
            if candidate:
                for schema in self.schemas:
                    if schema.id == candidate:
                        return schema
        raise SchemaNotFound(_decode(public_id) or public_id)

    def all(self) -> list[IdentitySchema]:
        return list(self.schemas)

    def schema_url(self, schema_id: str) -> str:
        """`<serve.public.base_url>schemas/<base64url(id), unpadded>`, the identity's `schema_url`."""
        return f"{self.public_base_url.rstrip('/')}/{SCHEMAS_PATH}/{encode_id(schema_id)}"


def encode_id(schema_id: str) -> str:
    return base64.urlsafe_b64encode(schema_id.encode("utf-8")).decode("ascii").rstrip("=")


def _decode(public_id: str) -> str | None:
    """base64url without padding, strictly (Go's RawURLEncoding): None when it is not that."""
    if "=" in public_id or len(public_id) % 4 == 1 or not public_id.isascii():
        return None
    try:
        raw = base64.b64decode(public_id + "=" * (-len(public_id) % 4), altchars=b"-_", validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _load(index: int, entry: dict[str, Any], settings: Settings, meta: Any) -> IdentitySchema:
    key = f"{SCHEMAS_KEY}[{index}]"
    url = entry.get("url", "")
    try:
        document = read_schema_document(url, settings.config_dir)
    except ConfigError as err:
        raise ConfigError(f"config: {key}.url: {err}") from None
    if document is None:
        raise ConfigError(f"config: {key}.url: remote identity schemas are not supported offline ({url})")
    problem = identity_schema_problem(document, meta)
    if problem is not None:
        raise ConfigError(f"config: {key}: {problem}")
    return IdentitySchema(id=entry["id"], url=url, document=document)


def _check_unique(ids: list[str]) -> None:
    for index, schema_id in enumerate(ids):
        if schema_id in ids[:index]:
            raise ConfigError(f"config: {SCHEMAS_KEY}[{index}].id: {schema_id!r} is used by another schema")
