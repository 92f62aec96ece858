"""A small synchronous client of the admin API for the command line (`warden identities …`).

The commands talk HTTP only, like Kratos's `kratos identities …`: they work against any Warden (or
Kratos) whose admin port they can reach, and need neither a config file nor the database. Every
failure is an `AdminApiError` whose message is one line: the server's Kratos-style error message,
or why the endpoint could not be reached.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

TIMEOUT_SECONDS = 30
_NEXT_PAGE = re.compile(r'<([^>]*)>;\s*rel="next"')


class AdminApiError(Exception):
    """A request the admin API refused or could not be made; the message is one line. `status` is
    the HTTP status of a refusal, None when no answer came (so that a caller can tell "this
    resource is missing" from "the server is not there")."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AdminApi:
    def __init__(self, endpoint: str, api_key: str = "") -> None:
        self.endpoint = endpoint.rstrip("/")
        self._headers = {"Accept": "application/json"}
        if api_key:  # a Warden with `serve.admin.api_keys` asks for one
            self._headers["Authorization"] = f"Bearer {api_key}"

    def call(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> tuple[Any, str]:
        """The decoded JSON answer (None when there is none) and the next page's token ("" if none)."""
        url = self.endpoint + path + ("?" + urllib.parse.urlencode(query, doseq=True) if query else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers=dict(self._headers))
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                raw = response.read()
                return (json.loads(raw) if raw else None), _next_page_token(response.headers.get("Link", ""))
        except urllib.error.HTTPError as exc:
            raise AdminApiError(_error_message(exc), exc.code) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AdminApiError(f"cannot reach the admin API at {self.endpoint} ({reason})") from exc
        except json.JSONDecodeError as exc:
            raise AdminApiError(f"{url} did not answer JSON: is it Warden's admin API?") from exc


def _next_page_token(link: str) -> str:
    match = _NEXT_PAGE.search(link)
    if not match:
        return ""
    return urllib.parse.parse_qs(urllib.parse.urlsplit(match.group(1)).query).get("page_token", [""])[0]


def _error_message(exc: urllib.error.HTTPError) -> str:
    """Kratos's `{"error": {...}}` as one line: the message and, when it adds something, the reason."""
    try:
        error = json.loads(exc.read() or b"{}").get("error") or {}
    except (json.JSONDecodeError, AttributeError):
        error = {}
    message = error.get("message") or exc.reason or "request failed"
    reason = error.get("reason")
    text = f"{exc.code} {message}" + (f": {reason}" if reason and reason != message else "")
    return " ".join(str(text).split())
