"""Environment overrides, Kratos style: the key path uppercased and joined with `_`.

Keys themselves contain underscores (`base_url`), so a variable name cannot be split back into a
path; instead the map NAME -> path is built from the schema's named properties. A value is converted
by the schema type at its path; when it does not parse it stays a string and validation names the key.
Only the `environ` given is read.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from shared.config.schema import property_paths
from shared.config.tree import set_path

_FAILED: Any = object()
_INTEGER = re.compile(r"[+-]?\d+")
_TRUE = {"1", "t", "true"}
_FALSE = {"0", "f", "false"}


@dataclass(frozen=True)
class EnvTarget:
    path: tuple[str, ...]
    types: frozenset[str]
    item_types: frozenset[str]


def env_name(path: tuple[str, ...]) -> str:
    return "_".join(part.upper().replace("-", "_") for part in path)


@cache
def env_index() -> dict[str, EnvTarget]:
    """NAME -> target for every schema path; the shallowest path wins a name clash."""
    index: dict[str, EnvTarget] = {}
    for path, nodes in sorted(property_paths(), key=lambda item: len(item[0])):
        name = env_name(path)
        if name not in index:
            items = [node["items"] for node in nodes if isinstance(node.get("items"), dict)]
            index[name] = EnvTarget(path, _types(nodes), _types(items))
    return index


def _types(nodes: list[dict[str, Any]]) -> frozenset[str]:
    found: set[str] = set()
    for node in nodes:
        kind = node.get("type")
        found.update([kind] if isinstance(kind, str) else kind or [])
    return frozenset(found)


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """The tree the matching variables describe; every other variable is ignored."""
    index = env_index()
    targets = [(index[name], value) for name, value in environ.items() if name in index]
    tree: dict[str, Any] = {}
    # Shorter paths first, so `SERVE_PUBLIC_PORT` refines an object given as `SERVE`.
    for target, value in sorted(targets, key=lambda item: len(item[0].path)):
        set_path(tree, target.path, convert(value, target))
    return tree


def convert(value: str, target: EnvTarget) -> Any:
    for kind in ("boolean", "integer", "number", "array", "object"):
        if kind in target.types:
            parsed = _PARSERS[kind](value.strip(), target)
            if parsed is not _FAILED:
                return parsed
    return value


def _boolean(value: str, _: EnvTarget) -> Any:
    lowered = value.lower()
    return True if lowered in _TRUE else False if lowered in _FALSE else _FAILED


def _integer(value: str, _: EnvTarget) -> Any:
    return int(value) if _INTEGER.fullmatch(value) else _FAILED


def _number(value: str, _: EnvTarget) -> Any:
    if _INTEGER.fullmatch(value):
        return int(value)
    try:
        number = float(value)
    except ValueError:
        return _FAILED
    return number if math.isfinite(number) else _FAILED


def _array(value: str, target: EnvTarget) -> Any:
    if value.startswith("["):
        return _json(value, list)
    # Kratos accepts `SECRETS_COOKIE=abc` for a list of one string.
    if "string" in target.item_types and "," not in value:
        return [value]
    return _FAILED


def _object(value: str, _: EnvTarget) -> Any:
    return _json(value, dict) if value.startswith("{") else _FAILED


def _json(value: str, kind: type) -> Any:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return _FAILED
    return parsed if isinstance(parsed, kind) else _FAILED


_PARSERS = {"boolean": _boolean, "integer": _integer, "number": _number, "array": _array, "object": _object}
