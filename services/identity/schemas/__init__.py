"""Identity schemas, as Kratos has them (`schema/`, `identity/extension_*.go`): the schemas of
`identity.schemas` checked against Kratos's identity meta-schema at start-up, traits validated with
Kratos's error texts, and the credential identifiers and addresses the `ory.sh/kratos` extension
derives from traits.

    registry = SchemaRegistry.from_settings(settings)
    schema = registry.get(identity.schema_id)
    schema.validate_traits(traits)                     # raises TraitsInvalid
    schema.credential_identifiers(traits)              # {"password": ["alice@example.com"], ...}

Pure: nothing is read after `from_settings`, nothing is fetched, nothing is global.
"""

from .derive import Address
from .errors import SchemaNotFound, TraitsInvalid, UnknownSchema
from .registry import SchemaRegistry, encode_id
from .schema import IdentitySchema

__all__ = [
    "Address",
    "IdentitySchema",
    "SchemaNotFound",
    "SchemaRegistry",
    "TraitsInvalid",
    "UnknownSchema",
    "encode_id",
]
