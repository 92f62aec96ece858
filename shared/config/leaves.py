"""The leaf settings of Kratos's config schema, and the leaves a config tree sets.

A leaf is a key a user gives a value: a property whose schema has no properties of its own. Arrays
of objects (hooks, OIDC providers, identity schemas, courier channels) are walked as their item
shape, written `…providers[].client_id`. `$ref`s into `definitions` and the branches of
`allOf`/`anyOf`/`oneOf`/`if`-`then`-`else` are followed, so a hook list's leaves are those of every
hook kind it may hold. Only Kratos's own schema is walked: Warden's keys are Warden's to honour.

`shared.config.coverage` says what Warden does with each leaf; its test walks the schema with
`schema_leaves`, so a schema bump that adds a key fails until someone decides about it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from shared.config.schema import KRATOS_SCHEMA
from shared.config.tree import MISSING, Key, format_path

BRANCHES = ("allOf", "anyOf", "oneOf", "then", "else")
# Deeper than any key: a web hook's auth settings sit 11 levels down; the bound only stops a cycle.
MAX_DEPTH = 16
ITEMS = "[]"


@cache
def schema_leaves(schema_file: Path = KRATOS_SCHEMA) -> dict[str, Any]:
    """Leaf path -> the schema's default for it (MISSING when it has none), in schema order."""
    root = json.loads(schema_file.read_text(encoding="utf-8"))
    found: dict[str, Any] = {}
    _walk(root, [root], "", found, 0)
    return found


def _walk(root: dict[str, Any], nodes: list[Any], path: str, found: dict[str, Any], depth: int) -> None:
    flat = _flatten(root, nodes)
    properties: dict[str, list[Any]] = {}
    for node in flat:
        for name, sub in node.get("properties", {}).items():
            properties.setdefault(name, []).append(sub)
    items = [node["items"] for node in flat if isinstance(node.get("items"), dict)]
    if properties and depth < MAX_DEPTH:
        for name, subs in properties.items():
            _walk(root, subs, f"{path}.{name}" if path else name, found, depth + 1)
    elif items and any(node.get("properties") for node in _flatten(root, items)):
        _walk(root, items, path + ITEMS, found, depth + 1)
    else:
        found[path] = next((node["default"] for node in flat if "default" in node), MISSING)


def _flatten(root: dict[str, Any], nodes: list[Any]) -> list[dict[str, Any]]:
    """The nodes with their `$ref`s resolved and their branches added."""
    out: list[dict[str, Any]] = []
    stack = [_resolve(root, node) for node in nodes]
    while stack:
        node = stack.pop(0)
        out.append(node)
        for keyword in BRANCHES:
            branch = node.get(keyword)
            branches = branch if isinstance(branch, list) else [branch] if isinstance(branch, dict) else []
            stack.extend(_resolve(root, b) for b in branches)
    return out


def _resolve(root: dict[str, Any], node: Any) -> dict[str, Any]:
    """Local `$ref`s followed; the remote one (tracing's, from ory/x) is a leaf with no shape here."""
    for _ in range(MAX_DEPTH):
        if not isinstance(node, dict) or "$ref" not in node:
            break
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return {}
        node = root
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node if isinstance(node, dict) else {}


def set_leaves(tree: dict[str, Any], leaves: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(leaf path, the path as written with its list indexes, value) for every leaf `tree` sets.
    Keys that are no Kratos leaf (Warden's own, or inside an object Kratos leaves open) are skipped."""

    def walk(node: Any, leaf: str, written: list[Key]) -> Iterator[tuple[str, str, Any]]:
        if leaf in leaves:
            yield leaf, format_path(written), node
        elif isinstance(node, dict):
            for name, value in node.items():
                yield from walk(value, f"{leaf}.{name}" if leaf else str(name), [*written, str(name)])
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from walk(value, leaf + ITEMS, [*written, index])

    yield from walk(tree, "", [])
