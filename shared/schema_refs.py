"""Local `$ref`s of an identity schema, followed once, where a service loads the schema.

Code that reads a schema's structure (the self-service form fields, the identifier labels, the
traits a settings change protects) reads `resolved(document)`: a copy in which every `$ref` into
the document (`#/definitions/…`, `#/$defs/…`, or the document's own `$id` with a fragment) is
replaced by what it points to, so `"email": {"$ref": "#/definitions/email"}` reads as the email
schema, its `type`, `title`, `format` and `ory.sh/kratos` extension included. Kratos gets the same
from its compiler (`jsonschemax.ListPaths` walks `Ref` like any sub-schema). The document itself is
not changed: it is what `GET /schemas/{id}` serves and what traits are validated against.

As in ory/jsonschema, a `$ref`'s sibling keywords are ignored. `definitions` and `$defs` are copied
as written: they are read through the references to them.

A reference cycle cannot be inlined. Kratos's form builder refuses one it meets ("detected circular
dependency in schema path") when a flow is made; `resolved` refuses the same cycles, at start-up:
those on the keywords that describe one value or its declared properties (`$ref`, `allOf`, `anyOf`,
`oneOf`, `not`, `if`/`then`/`else`, `dependencies`, `properties`). Below an array's items or a
map's values, where no form field is made (Kratos does not look there either), a reference back
to an enclosing definition is left as written, so the copy stays finite and a recursive list of
nested items keeps working.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from shared.errors import ConfigError

ROOT = "#"
# Keywords whose sub-schemas describe the same value, or its declared properties: a cycle through
# these alone has no end (an endless form; with the in-place ones alone, an endless validation).
IN_PLACE = frozenset({"allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependencies", "dependentSchemas"})
FORM = IN_PLACE | {"properties"}
# Keywords whose value is a schema, a list of schemas, or a map of them; anything else is data.
_ONE = frozenset(
    {"not", "if", "then", "else", "additionalItems", "additionalProperties", "contains", "propertyNames"}
    | {"unevaluatedItems", "unevaluatedProperties", "contentSchema", "items"}
)
_LIST = frozenset({"allOf", "anyOf", "oneOf", "prefixItems", "items"})
_MAP = frozenset({"properties", "patternProperties", "dependencies", "dependentSchemas"})
_AS_WRITTEN = frozenset({"definitions", "$defs"})
# Each reference is written out where it is used, so definitions that use each other several times
# multiply: a bound keeps a pathological schema from taking the start-up's memory.
MAX_NODES = 100_000


class RefCycle(ConfigError):
    """A `$ref` that leads back to itself where its schema could not be written out."""


FORM_CYCLE = (
    "a schema may contain itself only below an array's items or a map's values "
    "(Kratos's self-service forms refuse it too)"
)
ENDLESS = "validating a value against it would never end"


def resolved(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with its local references written out. Raises RefCycle for a cycle through the
    `FORM` keywords alone; another cycle is cut where it closes. A reference that points outside
    the document is left as written (the identity service refuses those at start-up)."""
    view: dict[str, Any] = _Resolver(document, FORM, FORM_CYCLE).schema(document, ROOT, ())
    return view


def check_endless_refs(document: dict[str, Any]) -> None:
    """Raise RefCycle for a reference cycle that validation would follow forever without moving to
    another value (`a` -> `b` -> `a`, or a definition whose `allOf` includes itself)."""
    _Resolver(document, IN_PLACE, ENDLESS).schema(document, ROOT, ())


def resolve_local(root: dict[str, Any], ref: str) -> tuple[Any, str] | None:
    """The node a `$ref` inside `root` points to, and its pointer; None if it points elsewhere.

    Only references into the same document resolve (`#/definitions/x`, or the document's own `$id`
    followed by a fragment): schemas are never fetched, so Warden works offline."""
    base, _, fragment = ref.partition("#")
    if base and base != str(root.get("$id", "")).partition("#")[0]:
        return None
    if fragment and not fragment.startswith("/"):
        return None  # a named anchor ("#foo"), which identity schemas do not use
    node: Any = root
    for token in fragment.split("/")[1:]:
        node = _child(node, unescape(token))
        if node is None:
            return None
    return node, ROOT + fragment


def unescape(token: str) -> str:
    """A JSON pointer token as written in a URI fragment: percent-decoded, then `~1` and `~0`."""
    return unquote(token).replace("~1", "/").replace("~0", "~")


# (target pointer, whether a keyword outside `refuse` was crossed since the reference was followed)
Trail = tuple[tuple[str, bool], ...]


class _Resolver:
    def __init__(self, root: dict[str, Any], refuse: frozenset[str], why: str) -> None:
        """`refuse`: the keywords a cycle may not go through alone; `why` says so in the error."""
        self.root = root
        self.refuse = refuse
        self.why = why
        self.budget = MAX_NODES

    def schema(self, node: Any, at: str, trail: Trail) -> Any:
        if not isinstance(node, dict):
            return node  # `true`, `false`, or not a schema at all
        self.budget -= 1
        if self.budget < 0:
            raise ConfigError(f"its $refs, written out, make more than {MAX_NODES} schemas (at {at})")
        ref = node.get("$ref")
        if isinstance(ref, str):
            return self._follow(node, ref, at, trail)
        copy: dict[str, Any] = {}
        for key, value in node.items():
            if key in _AS_WRITTEN or not (key in _ONE or key in _LIST or key in _MAP):
                copy[key] = value
                continue
            inner = trail if key in self.refuse else tuple((target, True) for target, _ in trail)
            copy[key] = self._keyword(key, value, f"{at}/{key}", inner)
        return copy

    def _keyword(self, key: str, value: Any, at: str, trail: Trail) -> Any:
        if isinstance(value, list) and key in _LIST:
            return [self.schema(item, f"{at}/{index}", trail) for index, item in enumerate(value)]
        if isinstance(value, dict) and key in _MAP:
            return {name: self.schema(sub, f"{at}/{name}", trail) for name, sub in value.items()}
        return self.schema(value, at, trail) if key in _ONE else value

    def _follow(self, node: dict[str, Any], ref: str, at: str, trail: Trail) -> Any:
        found = resolve_local(self.root, ref)
        if found is None:
            return node
        target, pointer = found
        for index, (seen, crossed) in enumerate(trail):
            if seen == pointer:
                if crossed:
                    return node  # recursion below an array or a map: left as written
                chain = " -> ".join([*(p for p, _ in trail[index:]), pointer])
                raise RefCycle(f"$ref cycle {chain} (at {at}): {self.why}")
        return self.schema(target, pointer, (*trail, (pointer, False)))


def _child(node: Any, token: str) -> Any:
    if isinstance(node, dict):
        return node.get(token)
    if isinstance(node, list) and token.isdigit() and int(token) < len(node):
        return node[int(token)]
    return None
