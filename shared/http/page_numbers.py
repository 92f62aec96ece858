"""Kratos's deprecated page-number pagination (`page`, `per_page`), which its identity list still
honours for old clients when a request names `page` and neither `page_size` nor `page_token`
(`x.ParseKeysetOrPagePagination`): pages counted from 0, `X-Total-Count`, and `Link` relations
named by page number. Only the first 1000 items can be reached this way; further on, the client
must switch to page tokens (Kratos's 400 says so)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from shared.errors import BadRequest

DEFAULT_PER_PAGE = 250
MAX_PER_PAGE = 500
REACHABLE = 1000


@dataclass(frozen=True)
class NumberedPage:
    page: int  # from 0
    per_page: int

    @property
    def offset(self) -> int:
        return self.page * self.per_page


def read_numbered_page(request: web.Request) -> NumberedPage | None:
    """The numbered page a request asks for, or None when it pages by token (the default). As in
    Kratos, a number that does not parse is the default, and both are clamped to their bounds."""
    query = request.query
    if "page_token" in query or "page_size" in query or "page" not in query:
        return None
    page = max(_number(query.get("page"), 0), 0)
    per_page = min(max(_number(query.get("per_page"), DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
    if page * per_page > REACHABLE:
        raise BadRequest(
            f"Legacy pagination is not supported for enumerating over {REACHABLE} items. "
            "Please switch to using page_token and page_size."
        )
    return NumberedPage(page, per_page)


def _number(value: str | None, default: int) -> int:
    try:
        return int(value or "")
    except ValueError:
        return default


def numbered_headers(request: web.Request, page: NumberedPage, total: int) -> dict[str, str]:
    """`X-Total-Count` and the `Link` relations Kratos's page paginator sends: `first`, `prev`,
    `next` and `last` as far as they exist (on an empty list all three of first, next and prev)."""
    size, offset = page.per_page, page.offset
    last = total - size if total % size == 0 else (total // size) * size  # the last page's offset

    def link(rel: str, offset: int, per_page: int = size) -> str:
        url = request.rel_url.update_query(per_page=str(per_page), page=str(offset // per_page))
        return f'<{url}>; rel="{rel}"'

    if offset >= last:
        if total == 0:
            links = [link("first", 0), link("next", offset + size), link("prev", offset - size)]
        elif total < size:
            links = [link("first", 0, total)]
        else:
            links = [link("first", 0), link("prev", last - size)]
    elif offset < size:
        links = [link("next", size), link("last", last)]
    else:
        links = [link("first", 0), link("next", offset + size), link("prev", offset - size), link("last", last)]
    return {"X-Total-Count": str(total), "Link": ",".join(links)}
