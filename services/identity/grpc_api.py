"""`warden.identity.v1.IdentityService`: Get, GetByCredentialIdentifier and List for internal
readers, in Kratos's admin view (credentials without their secrets)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import grpc
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp

from services.identity.domain import Identity
from services.identity.errors import IdentityNotFound
from services.identity.manager import IdentityManager
from services.identity.views import SchemaUrl, admin_view
from shared.cipher import DecryptionFailed
from shared.grpc.gen.warden.identity.v1 import identity_pb2, identity_pb2_grpc
from shared.grpc.server import GrpcService
from shared.http.pagination import Page
from shared.page_tokens import PageTokens

SERVICE_NAME = "warden.identity.v1.IdentityService"
DEFAULT_PAGE, MAX_PAGE = 250, 1000
MAX_IDENTIFIER = 1024


class IdentityApi(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, manager: IdentityManager, schema_url: SchemaUrl, page_tokens: PageTokens) -> None:
        self._manager, self._schema_url, self._page_tokens = manager, schema_url, page_tokens

    async def Get(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802 (gRPC's name)
        if not _is_uuid(request.id):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "id must be a UUID")
        try:
            return self._message(await self._manager.get(request.id))
        except IdentityNotFound:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such identity")

    async def GetByCredentialIdentifier(  # noqa: N802 (gRPC's name)
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> Any:
        if not request.type or not request.identifier or len(request.identifier) > MAX_IDENTIFIER:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "type and identifier are required")
        if "\x00" in request.type or "\x00" in request.identifier:  # PostgreSQL's text holds no NUL
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "type and identifier must not contain NUL")
        found = await self._manager.find_by_identifier(request.type, request.identifier)
        if found is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such identity")
            raise AssertionError("abort raises")
        return self._message(found)

    async def List(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802 (gRPC's name)
        size = request.page_size or DEFAULT_PAGE
        if not 0 < size <= MAX_PAGE:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"page_size must be 1 to {MAX_PAGE}")
        after = self._opened(request.page_token) if request.page_token else None
        if request.page_token and after is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "page_token is not one this API gave")
        page = Page(size, after)
        found, last = page.split(await self._manager.list(after=page.after, size=page.probe))
        return identity_pb2.ListResponse(
            identities=[self._message(identity) for identity in found],
            # sealed as the admin API's are (secrets.pagination); none after the last page, a full one too
            next_page_token=self._page_tokens.seal(last.id) if last else "",
        )

    def _opened(self, token: str) -> str | None:
        """The identity id a token this API gave carries (a lower-case UUID), else None."""
        try:
            after = self._page_tokens.open(token)
        except DecryptionFailed:
            return None
        return after if _is_uuid(after) and after == after.lower() else None

    def _message(self, identity: Identity) -> Any:
        view = admin_view(identity, self._schema_url)
        traits = Struct()
        traits.update(identity.traits or {})
        return identity_pb2.Identity(
            id=identity.id,
            schema_id=identity.schema_id,
            state=identity.state.value,
            traits=traits,
            created_at=_timestamp(identity.created_at),
            updated_at=_timestamp(identity.updated_at),
            json=json.dumps(view, separators=(",", ":")).encode(),
        )


def _timestamp(value: Any) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def identity_service(api: IdentityApi) -> GrpcService:
    return GrpcService(
        SERVICE_NAME, lambda server: identity_pb2_grpc.add_IdentityServiceServicer_to_server(api, server)
    )
