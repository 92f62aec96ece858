"""Reads what a config URL points at: `file://`, `base64://` or `http(s)://` (fetched once, at
start-up, so a send never waits on it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from shared.errors import ConfigError

Fetch = Callable[[str], Awaitable[str]]


async def read_source(url: str, settings: Any, fetch: Fetch, key: str) -> str:
    if url.startswith(("http://", "https://")):
        try:
            return await fetch(url)
        except Exception as exc:  # any network failure: the operator needs the key and the reason
            raise ConfigError(f"config: {key}: cannot fetch {url}: {exc}") from None
    return read_local(url, settings, key)


def read_local(url: str, settings: Any, key: str) -> str:
    """A `file://` or `base64://` source, read now (start-up checks need no event loop)."""
    if not url.startswith(("file://", "base64://")):
        raise ConfigError(f"config: {key}: use a file://, base64:// or http(s):// URL")
    try:
        location = settings.resolve_schema_location(url)
    except ConfigError as exc:
        raise ConfigError(f"config: {key}: {exc}") from None
    return read_file(Path(location), key) if url.startswith("file://") else str(location)


def read_file(path: Path, key: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config: {key}: cannot read {path}: {exc}") from None
