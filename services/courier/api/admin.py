"""The courier admin API (admin port): `GET /admin/courier/messages` and `…/messages/{id}`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiohttp import web

from services.courier.domain import STATUSES
from services.courier.errors import MessageNotFound
from services.courier.views import message_view
from shared.errors import BadRequest
from shared.http.admin_keys import reads_only
from shared.http.pagination import PageTokenInvalid, link_header, read_page
from shared.service import Route

if TYPE_CHECKING:
    from services.courier.service import CourierContainer

MESSAGES = "/admin/courier/messages"
MESSAGE = "/admin/courier/messages/{id}"


def after_key(token: str | None) -> tuple[datetime, str] | None:
    """The page token carries the (created_at, id) of the last message of the previous page."""
    if token is None:
        return None
    created, _, message_id = token.partition("|")
    try:
        at = datetime.fromisoformat(created)
    except ValueError as exc:
        raise PageTokenInvalid() from exc
    return (at if at.tzinfo else at.replace(tzinfo=UTC)), message_id


async def list_messages(c: CourierContainer, request: web.Request) -> web.Response:
    status = status_filter(request)
    page = read_page(request, c.page_tokens)
    async with c.database.connect() as conn:
        messages = await c.repository.page(
            conn,
            size=page.probe,
            after=after_key(page.after),
            status=status,
            recipient=request.query.get("recipient") or None,
        )
    messages, last = page.split(messages)
    contents = not reads_only(request)
    response = web.json_response([message_view(m, contents=contents) for m in messages])
    key = f"{last.created_at.isoformat()}|{last.id}" if last else None
    response.headers["Link"] = link_header(request, page, key, c.page_tokens)
    return response


def status_filter(request: web.Request) -> str | None:
    status = request.query.get("status") or None
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    return status


def path_uuid(request: web.Request) -> str:
    raw = request.match_info["id"]
    try:
        return str(uuid.UUID(raw))
    except ValueError as exc:
        raise BadRequest(f"could not parse parameter {{id}} as UUID, got {raw}") from exc


async def get_message(c: CourierContainer, request: web.Request) -> web.Response:
    message_id = path_uuid(request)
    async with c.database.connect() as conn:
        message = await c.repository.get(conn, message_id)
    if message is None:
        raise MessageNotFound()
    return web.json_response(message_view(message, with_dispatches=True, contents=not reads_only(request)))


ROUTES: list[Route[CourierContainer]] = [
    Route("admin", "GET", MESSAGES, list_messages),
    Route("admin", "GET", MESSAGE, get_message),
]
