"""Errors of the identity-schema module, with Kratos's texts."""

from __future__ import annotations

from typing import Any

from shared.errors import BadRequest, NotFound


class TraitsInvalid(BadRequest):
    """Traits that do not validate against their identity schema.

    `reason` is what Kratos's admin API puts there: ory/jsonschema's error text, e.g.
    `I[#/traits/email] S[#/properties/traits/properties/email/format] "foo" is not valid "email"`.
    `details["errors"]` lists one entry per failing field, for the self-service UI to attach to
    its node: `{"instance_ptr", "schema_ptr", "keyword", "message", "context"}`.
    """

    def __init__(self, reason: str, errors: list[dict[str, Any]]):
        super().__init__(reason, details={"errors": errors})

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = self.details["errors"]
        return errors


class UnknownSchema(BadRequest):
    """Kratos `schema.Schemas.GetByID`: a 400, as creating an identity with an unknown schema_id is."""

    def __init__(self, schema_id: str):
        super().__init__(f"Unable to find JSON Schema ID: {schema_id}")
        self.schema_id = schema_id


class SchemaNotFound(NotFound):
    """Kratos `GET /schemas/{id}` for an id that is configured neither plainly nor base64url-encoded."""

    def __init__(self, schema_id: str):
        super().__init__(f"Identity schema `{schema_id}` could not be found.")
        self.schema_id = schema_id
