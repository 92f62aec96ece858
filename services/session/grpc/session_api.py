"""`warden.session.v1.SessionService`: Check (the session check, as `/sessions/check` answers it)
and WatchRevocations (the revocation feed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from services.session.check import CheckedSession, SessionChecker
from services.session.errors import Aal2Required, NoActiveSession
from services.session.revocations import Overflow, RevocationFeed
from shared.cookies import CookieConfig, CookieSigner, cookie_value
from shared.grpc.gen.warden.session.v1 import session_pb2, session_pb2_grpc
from shared.grpc.server import GrpcService

SERVICE_NAME = "warden.session.v1.SessionService"
_AALS = ("", "aal1", "aal2")


class SessionApi(session_pb2_grpc.SessionServiceServicer):
    def __init__(
        self, checker: SessionChecker, feed: RevocationFeed, cookie: CookieConfig, signer: CookieSigner | None
    ) -> None:
        self._checker, self._feed, self._cookie, self._signer = checker, feed, cookie, signer

    async def Check(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802 (gRPC's name)
        which = request.WhichOneof("credential")
        if which is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a token or a cookie is required")
        if request.required_aal not in _AALS:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "required_aal must be aal1 or aal2")
        token = request.token if which == "token" else self._from_cookie(request.cookie)
        try:
            checked = await self._checker.check(token, require_aal2=request.required_aal == "aal2")
        except NoActiveSession:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "no active session")
        except Aal2Required:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "the session must be aal2")
        return session_pb2.CheckResponse(session=session_message(checked), headers=dict(checked.present_headers()))

    def _from_cookie(self, header: str) -> str | None:
        value = cookie_value(header, self._cookie.name)
        return self._signer.verify(value) if value and self._signer is not None else None

    async def WatchRevocations(  # noqa: N802 (gRPC's name)
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        async with self._feed.watch(request.identity_id) as revocations:
            # Tells the client it is subscribed: whatever is revoked from now on reaches it.
            await context.send_initial_metadata(())
            try:
                async for revocation in revocations:
                    revoked_at = Timestamp()
                    revoked_at.FromDatetime(revocation.revoked_at)
                    yield session_pb2.Revocation(
                        session_id=revocation.session_id, identity_id=revocation.identity_id, revoked_at=revoked_at
                    )
            except Overflow:
                await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "fell behind: reconnect and clear your cache")


def session_message(checked: CheckedSession) -> Any:
    expires_at = Timestamp()
    expires_at.FromNanoseconds(int(checked.entry.expires_at * 1e9))
    return session_pb2.Session(
        id=checked.session_id,
        identity_id=checked.identity_id,
        aal=checked.aal,
        expires_at=expires_at,
        json=checked.entry.body,
    )


def session_service(api: SessionApi, feed: RevocationFeed) -> GrpcService:
    return GrpcService(
        SERVICE_NAME, lambda server: session_pb2_grpc.add_SessionServiceServicer_to_server(api, server), feed.close
    )
