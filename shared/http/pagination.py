"""Kratos's keyset pagination: `page_size`, an opaque `page_token`, and a `Link` header."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from shared.errors import BadRequest

DEFAULT_PAGE_SIZE = 250
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Page:
    size: int
    after: str | None


def read_page(request: web.Request) -> Page:
    raw_size = request.query.get("page_size", str(DEFAULT_PAGE_SIZE))
    try:
        size = int(raw_size)
    except ValueError as exc:
        raise BadRequest(f"page_size must be a number, not {raw_size!r}") from exc
    if size < 1:
        raise BadRequest("page_size must be at least 1")
    token = request.query.get("page_token")
    return Page(min(size, MAX_PAGE_SIZE), decode_token(token) if token else None)


def encode_token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("the page_token is not valid") from exc


def link_header(path: str, page: Page, last_key: str | None) -> str:
    first = f'<{path}?{urlencode({"page_size": page.size})}>; rel="first"'
    if last_key is None:
        return first
    next_query = urlencode({"page_size": page.size, "page_token": encode_token(last_key)})
    return f'{first},<{path}?{next_query}>; rel="next"'
