"""The internal-HTTP adapter of `SessionClient`."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from shared.clients.http import HttpServiceClient, InternalHttp

BASE = "/internal/session"


class HttpSessionClient(HttpServiceClient):
    def __init__(self, http: InternalHttp) -> None:
        super().__init__("session", http)

    async def issue_session(
        self,
        identity_id: str,
        methods: list[dict[str, Any]],
        device: dict[str, Any],
        identity: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = {"identity_id": identity_id, "methods": methods, "device": device, "identity": identity}
        return await self._http.call("POST", f"{BASE}/sessions", body)

    async def session_by_token(self, token: str) -> dict[str, Any] | None:
        return (await self._http.call("POST", f"{BASE}/sessions/by-token", {"token": token})).get("session")

    async def add_authentication_method(self, session_id: str, method: dict[str, Any]) -> dict[str, Any]:
        return await self._http.call("POST", f"{BASE}/sessions/{quote(session_id)}/methods", method)

    async def reauthenticate(self, session_id: str, method: dict[str, Any]) -> dict[str, Any]:
        path = f"{BASE}/sessions/{quote(session_id)}/methods?rotate_token=true"
        answer = await self._http.call("POST", path, method)
        if "session" not in answer:  # a session service of before rotation: the session JSON, same token
            return {"session": answer, "session_token": None}
        return answer

    async def revoke_session(self, token: str) -> bool | None:
        answer = await self._http.call("POST", f"{BASE}/sessions/revoke", {"token": token})
        # A session service of before `known` (a rolling upgrade) is taken to know the token.
        return bool(answer.get("revoked")) if answer.get("known", True) else None

    async def revoke_identity_sessions(self, identity_id: str, except_session_id: str | None = None) -> int:
        path = f"{BASE}/identities/{quote(identity_id)}/sessions"
        if except_session_id:
            path += f"?except={quote(except_session_id)}"
        return int((await self._http.call("DELETE", path)).get("count", 0))

    async def identity_changed(self, identity_id: str, deleted: bool = False) -> None:
        await self._http.call("POST", f"{BASE}/identities/{quote(identity_id)}/changed", {"deleted": deleted})
