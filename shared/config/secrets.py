"""Secret references: `env://VAR` and `file:///path` (or `file://relative`, from the config's directory).

They apply to the keys in SECRET_PATHS only. The same list decides which keys' values are never
echoed in an error message. `bus.url` and `cache.url` are included beyond Kratos's keys because they
usually carry a password, and `serve.<port>.tls.key.base64` because it is a private key.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from shared.config.tree import Key, format_path, set_path
from shared.errors import ConfigError

ANY_KEY = "*"
ANY_INDEX = "[]"
SECRET_PATHS: tuple[tuple[str, ...], ...] = (
    ("dsn",),
    ("services", ANY_KEY, "dsn"),
    ("services", "internal_token"),
    ("secrets", ANY_KEY, ANY_INDEX),
    ("courier", "smtp", "connection_uri"),
    ("bus", "url"),
    ("cache", "url"),
    ("webhooks", "subscriptions", ANY_INDEX, "secret"),
    ("serve", "admin", "api_keys", ANY_INDEX, "key"),
    ("serve", ANY_KEY, "tls", "key", "base64"),  # a TLS private key, given inline
)
ENV_PREFIX = "env://"
FILE_PREFIX = "file://"


def _part_matches(pattern: str, part: Key) -> bool:
    if pattern == ANY_INDEX:
        return isinstance(part, int)
    return (pattern == ANY_KEY and isinstance(part, str)) or pattern == part


def is_sensitive(path: tuple[Key, ...]) -> bool:
    """True if `path` is a secret, inside one, or contains one (so printing it would leak it)."""
    if not path:
        return True
    return any(all(_part_matches(p, k) for p, k in zip(pattern, path)) for pattern in SECRET_PATHS)


def _matches(node: Any, pattern: tuple[str, ...], prefix: tuple[Key, ...] = ()) -> Iterator[tuple[Key, ...]]:
    if not pattern:
        yield prefix
        return
    head, rest = pattern[0], pattern[1:]
    if head == ANY_INDEX and isinstance(node, list):
        for index in range(len(node)):
            yield from _matches(node[index], rest, prefix + (index,))
    elif head == ANY_KEY and isinstance(node, dict):
        for key in list(node):
            yield from _matches(node[key], rest, prefix + (key,))
    elif isinstance(node, dict) and head in node:
        yield from _matches(node[head], rest, prefix + (head,))


def resolve_secrets(tree: dict[str, Any], environ: Mapping[str, str], config_dir: Path) -> dict[str, Any]:
    """A copy of `tree` with every secret reference replaced by the value it points to."""
    resolved = copy.deepcopy(tree)
    for pattern in SECRET_PATHS:
        for path in list(_matches(resolved, pattern)):
            value = _value_at(resolved, path)
            if isinstance(value, str) and value.startswith((ENV_PREFIX, FILE_PREFIX)):
                set_path(resolved, path, _dereference(value, path, environ, config_dir))
    return resolved


def _value_at(tree: Any, path: tuple[Key, ...]) -> Any:
    for part in path:
        tree = tree[part]
    return tree


def _dereference(ref: str, path: tuple[Key, ...], environ: Mapping[str, str], config_dir: Path) -> str:
    where = format_path(path)
    if ref.startswith(ENV_PREFIX):
        name = ref[len(ENV_PREFIX) :]
        if not name or name not in environ:
            raise ConfigError(f"config: {where}: environment variable {name!r} is not set")
        return environ[name]
    location = ref[len(FILE_PREFIX) :]
    file = Path(location) if Path(location).is_absolute() else config_dir / location
    try:
        # A trailing newline is an artefact of how secret files are written, not part of the secret.
        return file.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise ConfigError(f"config: {where}: cannot read secret file {str(file)!r}: {reason}") from None
