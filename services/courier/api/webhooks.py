"""Web hook deliveries on the admin port: list them (`?status=abandoned` are the dead-lettered ones),
read one, and send an abandoned one again with a fresh set of attempts. Warden's own API; Kratos
has none (its fire-and-forget web hooks are not kept)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from yarl import URL

from services.courier.api.admin import after_key, path_uuid, status_filter
from services.courier.domain import now
from services.courier.views import ts
from services.courier.webhooks.domain import Delivery
from shared.errors import Conflict, NotFound
from shared.http.pagination import link_header, read_page
from shared.service import Route

if TYPE_CHECKING:
    from services.courier.service import CourierContainer

DELIVERIES = "/admin/courier/webhooks"
DELIVERY = "/admin/courier/webhooks/{id}"
RETRY = "/admin/courier/webhooks/{id}/retry"


class DeliveryNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("The web hook delivery could not be found.", message="Unable to locate the resource")


def delivery_view(d: Delivery) -> dict[str, Any]:
    """Never the body: it may hold personal data; the receiver has it, and the log says why it failed."""
    return {
        "id": d.id,
        "kind": d.kind,
        "target": d.target,
        "event_type": d.event_type,
        "url": str(URL(d.url).with_user(None)),  # credentials in a URL stay out of answers
        "method": d.method,
        "status": d.status,
        "send_count": d.send_count,
        "last_error": d.last_error,
        "next_attempt_at": ts(d.next_attempt_at),
        "created_at": ts(d.created_at),
        "updated_at": ts(d.updated_at),
    }


async def list_deliveries(c: CourierContainer, request: web.Request) -> web.Response:
    page = read_page(request, c.page_tokens)
    async with c.database.connect() as conn:
        found = await c.deliveries.page(
            conn, size=page.probe, after=after_key(page.after), status=status_filter(request)
        )
    found, last = page.split(found)
    response = web.json_response([delivery_view(d) for d in found])
    key = f"{last.created_at.isoformat()}|{last.id}" if last else None
    response.headers["Link"] = link_header(request, page, key, c.page_tokens)
    return response


async def get_delivery(c: CourierContainer, request: web.Request) -> web.Response:
    async with c.database.connect() as conn:
        found = await c.deliveries.get(conn, path_uuid(request))
    if found is None:
        raise DeliveryNotFound()
    return web.json_response(delivery_view(found))


async def retry_delivery(c: CourierContainer, request: web.Request) -> web.Response:
    delivery_id = path_uuid(request)
    at: datetime = now()
    async with c.database.transaction() as conn:
        if not await c.deliveries.retry(conn, delivery_id, at):
            if await c.deliveries.get(conn, delivery_id) is None:
                raise DeliveryNotFound()
            raise Conflict("Only an abandoned delivery can be retried.")
        found = await c.deliveries.get(conn, delivery_id)
    assert found is not None  # just requeued, in this transaction
    c.webhook_dispatcher.wake()
    return web.json_response(delivery_view(found))


ROUTES: list[Route[CourierContainer]] = [
    Route("admin", "GET", DELIVERIES, list_deliveries),
    Route("admin", "GET", DELIVERY, get_delivery),
    Route("admin", "POST", RETRY, retry_delivery),
]
