"""The session service's internal API: the in-process adapter of `SessionClient` and the
`/internal/session/*` routes that serve the same calls to other processes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from services.session.domain import AuthenticationMethod, Device, now
from services.session.errors import NoActiveSession, path_uuid
from services.session.manager import SessionManager
from services.session.views import public_identity, session_view
from shared.errors import BadRequest
from shared.http.bodies import read_object
from shared.json_codec import json_response
from shared.service import Route
from shared.service_kit import ServiceInfo

if TYPE_CHECKING:
    from services.session.service import SessionContainer

BASE = "/internal/session"


def _method(raw: dict[str, Any]) -> AuthenticationMethod:
    if not isinstance(raw, dict) or not isinstance(raw.get("method"), str):
        raise BadRequest("an authentication method needs a `method`")
    completed = raw.get("completed_at")
    acr, amr = raw.get("upstream_acr"), raw.get("upstream_amr")
    if (acr is not None and not isinstance(acr, str)) or (
        amr is not None and not (isinstance(amr, list) and all(isinstance(v, str) for v in amr))
    ):
        raise BadRequest("an authentication method's `upstream_acr` is a string, its `upstream_amr` a list of them")
    return AuthenticationMethod(
        method=raw["method"],
        aal=str(raw.get("aal", "aal1")),
        completed_at=datetime.fromisoformat(completed) if completed else now(),
        provider=raw.get("provider"),
        upstream_acr=acr,
        upstream_amr=tuple(amr) if amr is not None else None,
    )


class SessionInternalApi(ServiceInfo):
    def __init__(self, manager: SessionManager) -> None:
        super().__init__("session")
        self._manager = manager

    async def issue_session(
        self,
        identity_id: str,
        methods: list[dict[str, Any]],
        device: dict[str, Any],
        identity: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if identity is None or identity.get("id") != identity_id:
            identity = await self._manager.identity_of_id(identity_id)
        session, token = await self._manager.issue(
            identity_id,
            [_method(m) for m in methods],
            Device(
                ip_address=device.get("ip_address"),
                user_agent=device.get("user_agent"),
                location=device.get("location"),
            ),
        )
        return {
            "session": session_view(session, public_identity(identity) if identity else None),
            "session_token": token,
        }

    async def session_by_token(self, token: str) -> dict[str, Any] | None:
        try:
            session = await self._manager.authenticate(token)
        except NoActiveSession:
            return None
        identity = await self._manager.identity_of(session)
        if identity is None or identity.get("state") != "active":
            return None
        return session_view(session, public_identity(identity))

    async def add_authentication_method(self, session_id: str, method: dict[str, Any]) -> dict[str, Any]:
        session = await self._manager.add_method(session_id, _method(method))
        identity = await self._manager.identity_of(session)
        return session_view(session, public_identity(identity) if identity else None)

    async def reauthenticate(self, session_id: str, method: dict[str, Any]) -> dict[str, Any]:
        session, token = await self._manager.reauthenticate(session_id, _method(method))
        identity = await self._manager.identity_of(session)
        return {
            "session": session_view(session, public_identity(identity) if identity else None),
            "session_token": token,
        }

    async def revoke_session(self, token: str) -> bool | None:
        session = await self._manager.find_by_token(token)
        if session is None:
            return None
        return await self._manager.revoke([session]) > 0

    async def revoke_identity_sessions(self, identity_id: str, except_session_id: str | None = None) -> int:
        return await self._manager.revoke_identity(identity_id, except_session_id)

    async def identity_changed(self, identity_id: str, deleted: bool = False) -> None:
        await self._manager.identity_changed(identity_id, deleted)


async def _issue(c: SessionContainer, request: web.Request) -> web.Response:
    body = await read_object(request)
    identity = body.get("identity") if isinstance(body.get("identity"), dict) else None
    result = await c.internal.issue_session(
        str(body.get("identity_id")), body.get("methods") or [], body.get("device") or {}, identity
    )
    return json_response(result, status=201)


async def _by_token(c: SessionContainer, request: web.Request) -> web.Response:
    return json_response({"session": await c.internal.session_by_token(str((await read_object(request)).get("token")))})


async def _add_method(c: SessionContainer, request: web.Request) -> web.Response:
    method = await read_object(request)
    if request.query.get("rotate_token") == "true":
        return json_response(await c.internal.reauthenticate(request.match_info["id"], method))
    return json_response(await c.internal.add_authentication_method(request.match_info["id"], method))


async def _revoke(c: SessionContainer, request: web.Request) -> web.Response:
    revoked = await c.internal.revoke_session(str((await read_object(request)).get("token")))
    return json_response({"revoked": bool(revoked), "known": revoked is not None})


async def _revoke_identity(c: SessionContainer, request: web.Request) -> web.Response:
    count = await c.internal.revoke_identity_sessions(request.match_info["id"], request.query.get("except"))
    return json_response({"count": count})


async def _identity_changed(c: SessionContainer, request: web.Request) -> web.Response:
    deleted = (await read_object(request)).get("deleted") is True
    await c.internal.identity_changed(path_uuid(request.match_info["id"]), deleted)
    return json_response({})


ROUTES: list[Route[SessionContainer]] = [
    Route("internal", "POST", f"{BASE}/sessions", _issue),
    Route("internal", "POST", f"{BASE}/sessions/by-token", _by_token),
    Route("internal", "POST", f"{BASE}/sessions/{{id}}/methods", _add_method),
    Route("internal", "POST", f"{BASE}/sessions/revoke", _revoke),
    Route("internal", "DELETE", f"{BASE}/identities/{{id}}/sessions", _revoke_identity),
    Route("internal", "POST", f"{BASE}/identities/{{id}}/changed", _identity_changed),
]
