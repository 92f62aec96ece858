"""Is a document an identity schema? Checked against Kratos's identity meta-schema, as Kratos does
when it loads `identity.schemas`.

`identity_meta.schema.json` and `identity_extension.schema.json` are Kratos's own
(`embedx/`), unchanged. The meta-schema refers to the draft-07 meta-schema (shipped with
jsonschema) and to `ory://identity-extension` (registered here), so nothing is fetched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, validators
from jsonschema.exceptions import SchemaError, best_match
from referencing import Registry
from referencing.jsonschema import DRAFT7

from shared.errors import ConfigError
from shared.schema_refs import check_endless_refs

from .patterns import pattern_problem, schema_patterns
from .pointers import pointer, resolve_local

HERE = Path(__file__).parent
META_SCHEMA = HERE / "identity_meta.schema.json"
EXTENSION_SCHEMA = HERE / "identity_extension.schema.json"
_NOT_SCHEMAS = ("enum", "const", "default", "examples")  # keywords whose values are data, not schemas
# Kratos loads a `$ref` to another document (`file://`, `http(s)://`, `base64://`) when traits are
# validated, and with `security.disallow_ref_in_identity_schemas: true` refuses all but `base64://`
# ones ("$ref scheme ... is not permitted in identity schemas", a 500 at registration). Warden loads
# none, whatever the switch says, and says so at start-up: a schema cannot read the host's files
# or reach its network.
EXTERNAL_REFS = (
    "Warden never loads a $ref from a file, a URL or base64:// "
    "(stricter than security.disallow_ref_in_identity_schemas: true)"
)


def meta_validator() -> Draft7Validator:
    """Build once per registry; it reads the two JSON files beside this module."""
    meta = json.loads(META_SCHEMA.read_text(encoding="utf-8"))
    extension = json.loads(EXTENSION_SCHEMA.read_text(encoding="utf-8"))
    registry = Registry().with_resource(extension["$id"], DRAFT7.create_resource(extension))
    return Draft7Validator(meta, registry=registry)


def identity_schema_problem(document: dict[str, Any], meta: Draft7Validator) -> str | None:
    """Why `document` is not a usable identity schema, in one line, or None if it is."""
    error = best_match(meta.iter_errors(document))
    if error is not None:
        where = pointer(error.absolute_path)
        return f"not a valid identity schema: {where}: {_one_line(error.message)}"
    try:
        validators.validator_for(document, default=Draft7Validator).check_schema(document)
    except SchemaError as err:
        return f"not a valid JSON Schema: {pointer(err.absolute_path)}: {_one_line(err.message)}"
    for ref in _refs(document):
        if resolve_local(document, ref) is None:
            return f"$ref {ref!r} does not point inside the schema: {EXTERNAL_REFS}"
    try:
        check_endless_refs(document)  # validating would recurse until Python gives up, on every request
    except ConfigError as err:
        return str(err)
    return next(filter(None, map(pattern_problem, schema_patterns(document))), None)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            elif key not in _NOT_SCHEMAS:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
