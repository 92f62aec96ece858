"""`GET /schemas` and `GET /schemas/{id}` on the public port, as Kratos serves them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from shared.http.pagination import link_header, read_page
from shared.service import Route

if TYPE_CHECKING:
    from services.identity.service import IdentityContainer


async def list_schemas(c: IdentityContainer, request: web.Request) -> web.Response:
    page = read_page(request, c.page_tokens)
    schemas = c.schemas.all()
    start = next((i + 1 for i, s in enumerate(schemas) if s.id == page.after), 0) if page.after else 0
    chosen = schemas[start : start + page.size]
    response = web.json_response([{"id": s.id, "schema": s.document} for s in chosen])
    more = start + page.size < len(schemas)
    response.headers["Link"] = link_header(request, page, chosen[-1].id if more and chosen else None, c.page_tokens)
    return response


async def get_schema(c: IdentityContainer, request: web.Request) -> web.Response:
    return web.json_response(c.schemas.get_by_public_id(request.match_info["id"]).document)


ROUTES: list[Route[IdentityContainer]] = [
    Route("public", "GET", "/schemas", list_schemas),
    Route("public", "GET", "/schemas/{id}", get_schema),
]
