"""What a gRPC caller is told when a call fails inside Warden: a status and a fixed sentence, never
the exception's text (a database error carries its SQL statement and parameters)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from shared.grpc.gen.warden.identity.v1 import identity_pb2, identity_pb2_grpc
from tests.factories import ThreadedWarden, running_warden, settings_for
from tests.gateway_helpers import INTERNAL_TOKEN, create_identity, gateway_config

AUTH = (("authorization", f"Bearer {INTERNAL_TOKEN}"),)
WAIT = 10.0


@pytest.fixture
def warden(tmp_path: Path, pg_dsn: str) -> Iterator[ThreadedWarden]:
    with running_warden(settings_for(tmp_path, pg_dsn, gateway_config())) as running:
        yield running


@pytest.fixture
def identities(warden: ThreadedWarden) -> Iterator[Any]:
    with grpc.insecure_channel(f"127.0.0.1:{warden.process.grpc_port}") as channel:
        yield identity_pb2_grpc.IdentityServiceStub(channel)


def failure_of(call: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def by_identifier(identities: Any, kind: str, identifier: str) -> Any:
    request = identity_pb2.GetByCredentialIdentifierRequest(type=kind, identifier=identifier)
    return identities.GetByCredentialIdentifier(request, metadata=AUTH, timeout=WAIT)


def run_sql(dsn: str, statement: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(dsn.replace("postgres://", "postgresql://", 1))
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


def test_a_database_error_reaches_the_caller_as_internal_without_its_text(
    warden: ThreadedWarden, identities: Any, pg_dsn: str
) -> None:
    create_identity(warden.admin_url, {"email": "kim@example.com"})
    run_sql(pg_dsn, "ALTER TABLE identity_identities RENAME TO identity_identities_gone")
    failure = failure_of(lambda: by_identifier(identities, "password", "kim@example.com"))
    assert failure.code() == grpc.StatusCode.INTERNAL
    assert failure.details() == "an internal error occurred"
    assert "kim@example.com" not in str(failure.debug_error_string())


def test_a_nul_character_in_an_identifier_is_an_invalid_argument(identities: Any) -> None:
    for kind, identifier in (("password", "kim\x00@example.com"), ("pass\x00word", "kim@example.com")):
        failure = failure_of(lambda k=kind, i=identifier: by_identifier(identities, k, i))
        assert (failure.code(), failure.details()) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "type and identifier must not contain NUL",
        )


def test_streams_written_by_the_servicer_still_stream(warden: ThreadedWarden) -> None:
    """grpcio's health Watch writes with `context.write` rather than yielding: the shield that wraps
    every method must leave such a stream working."""
    with grpc.insecure_channel(f"127.0.0.1:{warden.process.grpc_port}") as channel:
        stream = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=""), metadata=AUTH, timeout=WAIT
        )
        assert next(stream).status == health_pb2.HealthCheckResponse.SERVING
        stream.cancel()


def test_a_request_that_does_not_parse_is_an_invalid_argument(warden: ThreadedWarden) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{warden.process.grpc_port}") as channel:
        get = channel.unary_unary("/warden.identity.v1.IdentityService/Get")  # bytes in, bytes out
        failure = failure_of(lambda: get(b"\xff\xff\xff\x07not protobuf", metadata=AUTH, timeout=WAIT))
    assert (failure.code(), failure.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "the request message does not parse",
    )
