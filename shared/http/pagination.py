"""Kratos's keyset pagination: `page_size`, an opaque `page_token`, and a `Link` header.

A token is the last key of the previous page, base64url-encoded. Anything else given as a token
(a crafted one) is Kratos's 400, never a query: "AAAA" decodes to NUL bytes, which PostgreSQL
refuses with an error. A list whose keys have a shape (identity ids are lower-case UUIDs) says so
with `read_page(request, key=...)`, so that only a key it could have given is ever queried."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from shared.errors import BadRequest
from shared.http.bodies import unstorable_text

DEFAULT_PAGE_SIZE = 250
MAX_PAGE_SIZE = 1000

T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    size: int
    after: str | None

    @property
    def probe(self) -> int:
        """How many rows to read: one more than the page, to know whether another page follows."""
        return self.size + 1

    def split(self, found: Sequence[T]) -> tuple[list[T], T | None]:
        """The page's items out of `probe` rows, and the last of them when more follow, else None
        (Kratos's keyset paginator: no `next` link after the last page, even a full one)."""
        items = list(found[: self.size])
        return items, (items[-1] if len(found) > self.size else None)


class PageTokenInvalid(BadRequest):
    def __init__(self) -> None:
        super().__init__("The page token is invalid, do not craft your own page tokens")  # Kratos's words


def any_text(key: str) -> bool:
    return unstorable_text(key) is None


def read_page(request: web.Request, key: Callable[[str], bool] = any_text) -> Page:
    """`key` tells a key this list could have put in a token (its shape) from any other. The
    deprecated `per_page`, given without `page_size` or `page_token`, is the page size, as in
    Kratos's ParseKeysetOrPagePagination (the `Link` header then names it `page_size`)."""
    query = request.query
    if "page_size" not in query and "page_token" not in query and "per_page" in query:
        raw_size = query["per_page"]
    else:
        raw_size = query.get("page_size", str(DEFAULT_PAGE_SIZE))
    try:
        size = int(raw_size)
    except ValueError as exc:
        raise BadRequest(f"page_size must be a number, not {raw_size!r}") from exc
    if size < 1:
        raise BadRequest("page_size must be at least 1")
    token = request.query.get("page_token")
    return Page(min(size, MAX_PAGE_SIZE), decode_token(token, key) if token else None)


def encode_token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_token(token: str, key: Callable[[str], bool] = any_text) -> str:
    try:
        decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise PageTokenInvalid() from exc
    if not any_text(decoded) or not key(decoded):
        raise PageTokenInvalid()
    return decoded


def link_header(request: web.Request, page: Page, last_key: str | None) -> str:
    """Kratos's `Link` header: the request's own query (its filters, `expand`…) with the page's size
    and, for `next`, its token, so that following it pages the same list."""
    kept = [(k, v) for k, v in request.query.items() if k not in ("page_size", "page_token", "per_page")]
    first = request.rel_url.with_query([*kept, ("page_size", str(page.size))])
    links = f'<{first}>; rel="first"'
    if last_key is not None:
        links += f',<{first.extend_query(page_token=encode_token(last_key))}>; rel="next"'
    return links
