"""The identity schema a registration or login flow is made for (Kratos's `flow/identity_schema.go`
and `Config.SelfServiceFlowIdentitySchema`).

`GET /self-service/{registration,login}/{browser,api}?identity_schema=<id>` picks one of
`identity.schemas`: the default, or one marked `selfservice_selectable: true`; any other id is a 400
with Kratos's reason, before a flow is made. The flow's JSON carries the id as `identity_schema`
(absent when none was asked for, as Kratos's `omitempty`), and keeps it when the flow is renewed
after expiry or turned into a flow of the other kind (a social sign-in's login that must register).

A registration flow shows that schema's traits and creates its identity with that `schema_id`; a
login flow labels its identifier field from that schema. Signing in is not limited to identities of
the schema: Kratos's login strategies look identifiers up across all identities, and so does Warden.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.selfservice.flows.errors import IdentitySchemaRefused
from services.selfservice.flows.flow import Flow

if TYPE_CHECKING:
    from aiohttp import web

    from services.selfservice.traits import TraitSchemas

FIELD = "identity_schema"


def requested_schema(request: web.Request, schemas: TraitSchemas) -> str | None:
    """The schema `?identity_schema=` asks for, if it may be used; None when the query has none."""
    requested = request.query.get(FIELD)
    if not requested:
        return None
    if requested == schemas.default_id or requested in schemas.selectable:
        return requested
    raise IdentitySchemaRefused(requested, exists=schemas.known(requested))


def schema_fields(schema_id: str | None) -> dict[str, Any]:
    """The flow's JSON field for the schema: none at all for the default one nobody asked for."""
    return {FIELD: schema_id} if schema_id else {}


def schema_of(flow: Flow) -> str | None:
    """The schema the flow was made for; None: the default (TraitSchemas reads None so)."""
    value = flow.fields.get(FIELD)
    return value if isinstance(value, str) and value else None


def schema_id(flow: Flow, schemas: TraitSchemas) -> str:
    """The `schema_id` of an identity the flow creates."""
    return schema_of(flow) or schemas.default_id
