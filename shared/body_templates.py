"""Request body templates named by a config URL (a `web_hook`'s `body`, the password migration
hook's `body`), loaded the way Kratos's request builder loads them: `file://` and `base64://`
templates are read and syntax-checked at start-up, so a broken one stops Warden with the key that
names it; `http(s)://` ones are fetched when a call needs them, so a failure then is that call's,
and kept for `REMOTE_TEMPLATE_TTL` (Kratos's fetcher caches them too), so a call does not wait for
the template host each time. Shared because more than one service sends such bodies."""

from __future__ import annotations

import time
from typing import Any

from shared.config.sources import read_local
from shared.errors import ConfigError
from shared.http.egress import Egress
from shared.jsonnet import JsonnetBody

REMOTE_TEMPLATE_TTL = 60.0  # seconds a fetched template is used before it is fetched again


def is_remote(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def load_local(settings: Any, url: str, key: str, name: str | None = None) -> JsonnetBody:
    """The `file://` or `base64://` template at `url`, configured at `key` (as config errors spell
    it); `name` is how Jsonnet's errors name the program (the URL unless given)."""
    source = read_local(url, settings, key)
    try:
        return JsonnetBody(source, name or url)
    except RuntimeError as exc:  # go-jsonnet's error for a program that does not parse
        reason = " ".join(str(exc).split())
        raise ConfigError(f"config: {key}: the Jsonnet body does not parse: {reason}") from None


async def fetch_remote(egress: Egress, url: str, name: str | None = None) -> JsonnetBody:
    """The `http(s)://` template at `url`, fetched now through the service's egress guard (raises
    what the fetch raises, or RuntimeError for a template that does not parse)."""
    return JsonnetBody(await egress.fetch_text(url), name or url)


class RemoteTemplates:
    """`http(s)://` templates by URL, each kept for `REMOTE_TEMPLATE_TTL` after it was fetched. Only
    a template that was read and parses is kept: a failed fetch is tried again by the next call. The
    caller bounds the fetch (a hook's timeout)."""

    def __init__(self, egress: Egress) -> None:
        self._egress = egress
        self._kept: dict[str, tuple[float, JsonnetBody]] = {}

    async def get(self, url: str, name: str | None = None) -> JsonnetBody:
        kept = self._kept.get(url)
        if kept is not None and time.monotonic() - kept[0] < REMOTE_TEMPLATE_TTL:
            return kept[1]
        body = await fetch_remote(self._egress, url, name)
        self._kept[url] = (time.monotonic(), body)
        return body
