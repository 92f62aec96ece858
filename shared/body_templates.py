"""Request body templates named by a config URL (a `web_hook`'s `body`, the password migration
hook's `body`), loaded the way Kratos's request builder loads them: `file://` and `base64://`
templates are read and syntax-checked at start-up, so a broken one stops Warden with the key that
names it; `http(s)://` ones are fetched for each call, as Kratos does, so a failure then is that
call's. Shared because more than one service sends such bodies."""

from __future__ import annotations

from typing import Any

from shared.config.sources import read_local
from shared.errors import ConfigError
from shared.http.egress import Egress
from shared.jsonnet import JsonnetBody


def is_remote(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def load_local(settings: Any, url: str, key: str, name: str | None = None) -> JsonnetBody:
    """The `file://` or `base64://` template at `url`, configured at `key` (as config errors spell
    it); `name` is how Jsonnet's errors name the program (the URL unless given)."""
    source = read_local(url, settings, key)
    try:
        return JsonnetBody(source, name or url)
    except RuntimeError as exc:  # _jsonnet's error for a program that does not parse
        reason = " ".join(str(exc).split())
        raise ConfigError(f"config: {key}: the Jsonnet body does not parse: {reason}") from None


async def fetch_remote(egress: Egress, url: str, name: str | None = None) -> JsonnetBody:
    """The `http(s)://` template at `url`, fetched now through the service's egress guard (raises
    what the fetch raises, or RuntimeError for a template that does not parse)."""
    return JsonnetBody(await egress.fetch_text(url), name or url)
