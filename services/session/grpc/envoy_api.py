"""Envoy's `ext_authz` over gRPC (`envoy.service.auth.v3.Authorization/Check`): the same session
check as `/sessions/check`, from the headers Envoy sends along, answered as Envoy expects: OK with
the identity headers to add (and the trait headers the identity lacks to remove, so a client cannot
forge them), or a denial that Envoy turns into 401 / 403 for the client.

A route asks for a second factor with `context_extensions: {required_aal: aal2}` in its
`ext_authz` per-route settings.
"""

from __future__ import annotations

from typing import Any

import grpc

from services.session.check import SessionChecker
from services.session.errors import Aal2Required, NoActiveSession
from shared.cookies import CookieConfig, CookieSigner, session_token_from_headers
from shared.grpc.gen.envoy.config.core.v3 import base_pb2
from shared.grpc.gen.envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from shared.grpc.gen.envoy.type.v3 import http_status_pb2
from shared.grpc.gen.google.rpc import status_pb2
from shared.grpc.server import GrpcService

SERVICE_NAME = "envoy.service.auth.v3.Authorization"
_OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD


class EnvoyAuthorization(external_auth_pb2_grpc.AuthorizationServicer):
    def __init__(self, checker: SessionChecker, cookie: CookieConfig, signer: CookieSigner | None) -> None:
        self._checker, self._cookie, self._signer = checker, cookie, signer

    async def Check(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802 (gRPC's name)
        attributes = request.attributes
        token = session_token_from_headers(attributes.request.http.headers, self._cookie, self._signer)
        require_aal2 = attributes.context_extensions.get("required_aal") == "aal2"
        try:
            checked = await self._checker.check(token, require_aal2=require_aal2)
        except NoActiveSession:
            return _denied(grpc.StatusCode.UNAUTHENTICATED, http_status_pb2.Unauthorized)
        except Aal2Required:
            return _denied(grpc.StatusCode.PERMISSION_DENIED, http_status_pb2.Forbidden)
        headers = [
            base_pb2.HeaderValueOption(header=base_pb2.HeaderValue(key=name, value=value), append_action=_OVERWRITE)
            for name, value in checked.present_headers()
        ]
        return external_auth_pb2.CheckResponse(
            status=status_pb2.Status(code=grpc.StatusCode.OK.value[0]),
            ok_response=external_auth_pb2.OkHttpResponse(headers=headers, headers_to_remove=checked.absent_headers()),
        )


def _denied(code: grpc.StatusCode, http_status: int) -> Any:
    return external_auth_pb2.CheckResponse(
        status=status_pb2.Status(code=code.value[0]),
        denied_response=external_auth_pb2.DeniedHttpResponse(status=http_status_pb2.HttpStatus(code=http_status)),
    )


def envoy_service(api: EnvoyAuthorization) -> GrpcService:
    return GrpcService(
        SERVICE_NAME, lambda server: external_auth_pb2_grpc.add_AuthorizationServicer_to_server(api, server)
    )
