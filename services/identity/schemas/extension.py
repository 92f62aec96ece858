"""Finding the trait values that carry the `ory.sh/kratos` extension.

Kratos runs its extensions (credentials, verification, recovery) on every schema node the
validator evaluates, with that node's value. This walks the schema beside the traits the same way:
`$ref` (local), `allOf`, the `anyOf`/`oneOf` branches the value is valid against, `if`/`then`/`else`,
`properties`, `patternProperties`, `additionalProperties`, `items`/`prefixItems`/`additionalItems`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .patterns import compiled
from .pointers import ROOT, join, resolve_local

EXTENSION = "ory.sh/kratos"
MAX_DEPTH = 64  # a `$ref` cycle that consumes no instance depth must still end

IsValid = Callable[[Any, Any], bool]
Located = tuple[Any, str]  # a schema node and its pointer


@dataclass(frozen=True)
class Hit:
    """A value in the traits and the extension config of a schema node that describes it."""

    instance_ptr: str  # "#/traits/email"
    schema_ptr: str  # "#/properties/traits/properties/email"
    config: dict[str, Any] = field(hash=False)  # the node's "ory.sh/kratos" object
    node: dict[str, Any] = field(hash=False)  # the schema node itself, for its "format"
    value: Any = field(hash=False)


def extension_hits(document: dict[str, Any], traits: Any, is_valid: IsValid) -> list[Hit]:
    """Every (value, extension) pair for `{"traits": traits}`, in schema order."""
    walker = _Walker(document, is_valid)
    return list(walker.walk(document, ROOT, {"traits": traits}, ROOT, 0))


class _Walker:
    def __init__(self, root: dict[str, Any], is_valid: IsValid):
        self.root = root
        self.is_valid = is_valid

    def walk(self, node: Any, schema_at: str, value: Any, at: str, depth: int) -> Iterator[Hit]:
        if not isinstance(node, dict) or depth > MAX_DEPTH:
            return
        if isinstance(node.get("$ref"), str):
            target = resolve_local(self.root, node["$ref"])
            if target is not None:
                yield from self.walk(*target, value, at, depth + 1)
            return  # ory/jsonschema ignores the siblings of a $ref, in every draft
        config = node.get(EXTENSION)
        if isinstance(config, dict):
            yield Hit(at, schema_at, config, node, value)
        for sub, sub_at in self._branches(node, schema_at, value):
            yield from self.walk(sub, sub_at, value, at, depth + 1)
        for (sub, sub_at), token, item in _children(node, schema_at, value):
            yield from self.walk(sub, sub_at, item, join(at, token), depth + 1)

    def _branches(self, node: dict[str, Any], schema_at: str, value: Any) -> Iterator[Located]:
        """The sub-schemas that apply to the same value: all of `allOf`, the `anyOf`/`oneOf` branches
        it is valid against, `then` or `else`."""
        for keyword in ("allOf", "anyOf", "oneOf"):
            for index, branch in enumerate(node.get(keyword) or []):
                if keyword == "allOf" or self.is_valid(branch, value):
                    yield branch, join(schema_at, keyword, index)
        if "if" in node:
            chosen = "then" if self.is_valid(node["if"], value) else "else"
            yield node.get(chosen), join(schema_at, chosen)


def _children(node: dict[str, Any], schema_at: str, value: Any) -> Iterator[tuple[Located, str | int, Any]]:
    """(sub-schema, token, item) for each property or array item of `value`."""
    if isinstance(value, dict):
        for name, item in value.items():
            for located in _property_schemas(node, name, schema_at):
                yield located, name, item
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield _item_schema(node, index, schema_at), index, item


def _property_schemas(node: dict[str, Any], name: str, schema_at: str) -> list[Located]:
    """The sub-schemas that apply to property `name`: its `properties` entry and every matching
    `patternProperties` entry, else `additionalProperties`."""
    found = []
    properties = node.get("properties") or {}
    if name in properties:
        found.append((properties[name], join(schema_at, "properties", name)))
    for pattern, sub in (node.get("patternProperties") or {}).items():
        if compiled(pattern).search(name):
            found.append((sub, join(schema_at, "patternProperties", pattern)))
    if not found and "additionalProperties" in node:
        found.append((node["additionalProperties"], join(schema_at, "additionalProperties")))
    return found


def _item_schema(node: dict[str, Any], index: int, schema_at: str) -> Located:
    """The sub-schema for item `index`: positional (`prefixItems`, or `items` as a list), else the
    schema for the rest (`items`, or `additionalItems` after a list)."""
    items = node.get("items")
    positional_keyword = "prefixItems" if "prefixItems" in node else "items"
    positional = node.get("prefixItems") or (items if isinstance(items, list) else [])
    if index < len(positional):
        return positional[index], join(schema_at, positional_keyword, index)
    rest = "additionalItems" if isinstance(items, list) else "items"
    return node.get(rest), join(schema_at, rest)
