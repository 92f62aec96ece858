"""Kratos's keyset pagination: `page_size`, an opaque `page_token`, and a `Link` header.

A token is the last key of the previous page, sealed with `secrets.pagination`
(`shared.page_tokens`). Anything else given as a token (crafted, tampered with, sealed under a
secret no longer listed) is Kratos's 400, never a query. What opens is checked again before it is
queried (text a database can hold, and the list's own shape through `read_page(..., key=...)`:
identity ids are lower-case UUIDs), so that only a key the list could have given is ever used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from shared.cipher import DecryptionFailed
from shared.errors import BadRequest
from shared.http.bodies import unstorable_text
from shared.page_tokens import PageTokens

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


def read_page(request: web.Request, tokens: PageTokens, key: Callable[[str], bool] = any_text) -> Page:
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
    return Page(min(size, MAX_PAGE_SIZE), open_token(token, tokens, key) if token else None)


def open_token(token: str, tokens: PageTokens, key: Callable[[str], bool] = any_text) -> str:
    try:
        opened = tokens.open(token)
    except DecryptionFailed as exc:
        raise PageTokenInvalid() from exc
    if not any_text(opened) or not key(opened):
        raise PageTokenInvalid()
    return opened


def link_header(request: web.Request, page: Page, last_key: str | None, tokens: PageTokens) -> str:
    """Kratos's `Link` header: the request's own query (its filters, `expand`…) with the page's size
    and, for `next`, its token, so that following it pages the same list."""
    kept = [(k, v) for k, v in request.query.items() if k not in ("page_size", "page_token", "per_page")]
    first = request.rel_url.with_query([*kept, ("page_size", str(page.size))])
    links = f'<{first}>; rel="first"'
    if last_key is not None:
        links += f',<{first.extend_query(page_token=tokens.seal(last_key))}>; rel="next"'
    return links
