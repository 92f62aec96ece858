"""The session admin API (admin port)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from services.session.domain import Session
from services.session.errors import SessionNotFound, path_uuid
from services.session.views import admin_identity, session_view
from shared.errors import BadRequest, NotFound
from shared.http.pagination import link_header, read_page
from shared.service import Route

if TYPE_CHECKING:
    from services.session.service import SessionContainer

SESSIONS = "/admin/sessions"
SESSION = "/admin/sessions/{id}"
EXTEND = "/admin/sessions/{id}/extend"
IDENTITY_SESSIONS = "/admin/identities/{id}/sessions"


EXPANDABLE = ("identity", "devices")


def _expand(request: web.Request) -> set[str]:
    """`expand` as Kratos's ParseExpandable reads it: each value case-insensitive, an unknown one a 400."""
    expand = set()
    for raw in request.query.getall("expand", []):
        if raw.lower() not in EXPANDABLE:
            raise BadRequest(f"Could not parse expand option: {raw}")
        expand.add(raw.lower())
    return expand


def _active_filter(request: web.Request) -> bool | None:
    raw = request.query.get("active")
    if raw is None or raw == "":
        return None
    if raw.lower() not in ("true", "false"):
        raise BadRequest(f"active must be true or false, not {raw!r}")
    return raw.lower() == "true"


async def _views(c: SessionContainer, sessions: list[Session], expand: set[str]) -> list[dict[str, Any]]:
    # Each identity read once: a page of one identity's sessions (up to 1,000) is one read, not one a
    # session, over HTTP when the identity service runs apart.
    by_id: dict[str, Any] = {}
    if "identity" in expand:
        ids = list(dict.fromkeys(s.identity_id for s in sessions))
        by_id = dict(zip(ids, await asyncio.gather(*(c.manager.identity_of_id(i) for i in ids))))
    return [
        session_view(
            s,
            admin_identity(by_id[s.identity_id]) if by_id.get(s.identity_id) else None,
            with_devices="devices" in expand,
        )
        for s in sessions
    ]


async def _page_response(c: SessionContainer, request: web.Request, expand: set[str], **query: Any) -> web.Response:
    page = read_page(request, c.page_tokens)
    sessions, last = page.split(
        await c.manager.page(size=page.probe, after=page.after, active=_active_filter(request), **query)
    )
    response = web.json_response(await _views(c, sessions, expand))
    response.headers["Link"] = link_header(request, page, last.id if last else None, c.page_tokens)
    return response


async def list_sessions(c: SessionContainer, request: web.Request) -> web.Response:
    return await _page_response(c, request, _expand(request))


async def get_session(c: SessionContainer, request: web.Request) -> web.Response:
    if request.match_info["id"] == "whoami":
        raise SessionNotFound()  # Kratos sends it to the public whoami; not a malformed id
    session_id, expand = path_uuid(request.match_info["id"]), _expand(request)
    session = c.manager.as_seen(await c.manager.get(session_id))
    # Without `expand`, Kratos's GetSession loads neither the identity nor the devices.
    return web.json_response((await _views(c, [session], expand))[0])


async def disable_session(c: SessionContainer, request: web.Request) -> web.Response:
    await c.manager.revoke([await c.manager.get(path_uuid(request.match_info["id"]))])
    return web.Response(status=204)


async def extend_session(c: SessionContainer, request: web.Request) -> web.Response:
    """Kratos answers 204 under `feature_flags.faster_session_extend`, without reading the session
    back; else (its deprecated default) the session as GetSession reads it after the extension, with
    ExpandDefault: the identity, not the devices."""
    session_id = path_uuid(request.match_info["id"])
    await c.manager.extend(session_id)
    if c.config.faster_extend:
        return web.Response(status=204)
    session = c.manager.as_seen(await c.manager.get(session_id))
    return web.json_response((await _views(c, [session], {"identity"}))[0])


async def list_identity_sessions(c: SessionContainer, request: web.Request) -> web.Response:
    identity_id = path_uuid(request.match_info["id"])
    if await c.identities.get_identity(identity_id) is None:
        raise SessionNotFound()
    # Kratos's listIdentitySessions takes no `expand`: it always answers with identity and devices.
    return await _page_response(c, request, set(EXPANDABLE), identity_id=identity_id)


async def delete_identity_sessions(c: SessionContainer, request: web.Request) -> web.Response:
    """Kratos deletes the rows, and answers 404 when there were none (an unknown identity, or one
    without sessions): its DeleteSessionsByIdentity counts the deleted rows."""
    if await c.manager.delete_identity_sessions(path_uuid(request.match_info["id"])) == 0:
        raise SessionNotFound()
    return web.Response(status=204)


async def bulk_sessions(_c: SessionContainer, _request: web.Request) -> web.Response:
    """Ory Network's bulk session API; Kratos OSS does not have it and answers 404."""
    raise NotFound("", message="Not Found")


ROUTES: list[Route[SessionContainer]] = [
    Route("admin", "GET", SESSIONS, list_sessions),
    Route("admin", "POST", SESSIONS, bulk_sessions),
    Route("admin", "GET", SESSION, get_session),
    Route("admin", "DELETE", SESSION, disable_session),
    Route("admin", "PATCH", EXTEND, extend_session),
    Route("admin", "GET", IDENTITY_SESSIONS, list_identity_sessions),
    Route("admin", "DELETE", IDENTITY_SESSIONS, delete_identity_sessions),
]
