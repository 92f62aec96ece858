"""The config tree as plain data: reading files, merging layers, addressing keys by path."""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from shared.errors import ConfigError

Key = str | int
MISSING: Any = object()


def format_path(path: Iterable[Key]) -> str:
    """`("identity", "schemas", 0, "url")` -> `identity.schemas[0].url`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def read_config_file(path: Path) -> dict[str, Any]:
    """One config file as a dict: YAML (Kratos's usual), JSON or TOML by suffix."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"config: {path}: cannot read: {getattr(err, 'strerror', None) or err}") from None
    try:
        data = _parse(path, text)
    except yaml.MarkedYAMLError as err:
        # PyYAML's own text says `"<unicode string>"` where the file is and spans several lines.
        mark = err.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = " ".join(filter(None, (err.context, err.problem)))
        raise ConfigError(f"config: {where}: YAML syntax error: {problem}") from None
    except (yaml.YAMLError, json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"config: {path}: cannot parse: {' '.join(str(err).split())}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config: {path}: the top level must be a mapping of keys, not {type(data).__name__}")
    return data


def _parse(path: Path, text: str) -> Any:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return json.loads(text)
    if suffix == ".toml":
        return tomllib.loads(text)
    return yaml.safe_load(text)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """A new tree: mappings merge key by key, anything else (lists included) is replaced, as in Kratos."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def get_path(tree: Any, path: Iterable[Key]) -> Any:
    """The value at `path`, or MISSING. A digit segment indexes a list."""
    node = tree
    for part in path:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and (index := _index(part, len(node))) is not None:
            node = node[index]
        else:
            return MISSING
    return node


def _index(part: Key, length: int) -> int | None:
    if isinstance(part, str):
        if not part.isdigit():
            return None
        part = int(part)
    return part if 0 <= part < length else None


def set_path(tree: dict[str, Any], path: tuple[Key, ...], value: Any) -> None:
    """Set `value` at `path` in place. A parent addressed by name is created, or replaced when it is
    not a mapping; a parent addressed by index (secret lists) must already exist."""
    node: Any = tree
    for part, following in zip(path, path[1:]):
        child = node[part] if isinstance(part, int) else node.get(part)
        if isinstance(following, str) and not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value
