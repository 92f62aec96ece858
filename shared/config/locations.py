"""Where identity schemas live: `file://`, `base64://` and `http(s)://` locations, as Kratos accepts.

Kratos's quickstart configs name files by the path they have inside Kratos's repository or Docker
image (`file://./contrib/quickstart/…`, `file:///etc/config/kratos/…`). A `file://` location is
therefore tried as given (relative to the working directory), then relative to the config's
directory, then as the file's basename inside the config's directory.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from shared.config.tree import format_path
from shared.errors import ConfigError

FILE = "file://"
BASE64 = "base64://"


def resolve_schema_location(url: str, config_dir: Path) -> str:
    """`file://` -> the absolute path of the file found; `base64://` -> the decoded text;
    anything else (http, https) -> `url` unchanged. Raises ConfigError when nothing is found."""
    if url.startswith(FILE):
        return str(_find_file(url[len(FILE) :], config_dir))
    if url.startswith(BASE64):
        return _decode(url[len(BASE64) :])
    return url


def read_schema_document(url: str, config_dir: Path) -> dict[str, Any] | None:
    """The JSON document at a `file://` or `base64://` location; None for remote ones (not fetched here)."""
    location = resolve_schema_location(url, config_dir)
    if url.startswith(FILE):
        try:
            text = Path(location).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"cannot read {location}: {getattr(err, 'strerror', None) or err}") from None
    elif url.startswith(BASE64):
        text = location
    else:
        return None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{_short(url)} is not JSON: {err}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{_short(url)} is not a JSON object")
    return document


def check_identity_schemas(tree: dict[str, Any], config_dir: Path) -> None:
    """Every local identity schema must be a readable JSON object, and the default id must exist."""
    identity = tree.get("identity") or {}
    for index, entry in enumerate(identity.get("schemas") or []):
        _check(entry.get("url", ""), ("identity", "schemas", index, "url"), config_dir)
    if "default_schema_url" in identity:  # pre-v0.11 key; the schema rejects it today
        _check(identity["default_schema_url"], ("identity", "default_schema_url"), config_dir)
    ids = [entry.get("id") for entry in identity.get("schemas") or []]
    default_id = identity.get("default_schema_id", "default")
    if ids and default_id not in ids:
        raise ConfigError(f"config: identity.default_schema_id: no schema in identity.schemas has id {default_id!r}")


def _check(url: str, path: tuple[str | int, ...], config_dir: Path) -> None:
    try:
        read_schema_document(url, config_dir)
    except ConfigError as err:
        raise ConfigError(f"config: {format_path(path)}: {err}") from None


def _find_file(location: str, config_dir: Path) -> Path:
    given = Path(location)
    for candidate in (given, config_dir / given, config_dir / given.name):
        if candidate.is_file():
            return candidate.resolve()
    raise ConfigError(f"no file for {FILE}{location} (looked in the working directory and {config_dir})")


def _decode(data: str) -> str:
    padded = data + "=" * (-len(data) % 4)
    for altchars in (None, b"-_"):  # standard, then URL-safe alphabet
        try:
            return base64.b64decode(padded, altchars=altchars, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            continue
    raise ConfigError(f"{_short(BASE64 + data)} is not valid base64 of UTF-8 text")


def _short(url: str, limit: int = 60) -> str:
    return url if len(url) <= limit else url[: limit - 1] + "…"
