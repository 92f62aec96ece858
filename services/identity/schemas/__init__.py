"""Identity schemas, as Kratos has them (`schema/`, `identity/extension_*.go`): the schemas of
`identity.schemas` checked against Kratos's identity meta-schema at start-up, traits validated with
Kratos's error texts, and the credential identifiers and addresses the `ory.sh/kratos` extension
derives from traits.

    registry = SchemaRegistry.from_settings(settings)
    schema = registry.get(identity.schema_id)
    schema.validate_traits(traits)                     # raises TraitsInvalid
    schema.credential_identifiers(traits)              # {"password": ["alice@example.com"], ...}

`compile_validator` and `problems_in` are the same validation for any other JSON Schema document
(`warden identities validate` checks a create payload with them, the way traits are checked).

Pure: nothing is read after `from_settings`, nothing is fetched, nothing is global.
"""

from .derive import Address
from .errors import SchemaNotFound, TraitsInvalid, UnknownSchema
from .problems import Problem
from .registry import SchemaRegistry, encode_id
from .schema import IdentitySchema, compile_validator, problems_in

__all__ = [
    "Address",
    "IdentitySchema",
    "Problem",
    "SchemaNotFound",
    "SchemaRegistry",
    "TraitsInvalid",
    "UnknownSchema",
    "compile_validator",
    "encode_id",
    "problems_in",
]
