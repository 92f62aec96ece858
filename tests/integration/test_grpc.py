"""The gRPC port of a real all-in-one Warden, through the generated clients: the session check,
revocations streamed during a logout, the identity readers, Envoy's ext_authz, health, reflection,
and refusals (no internal token, a malformed token, oversized metadata)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import urllib3
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from shared.cookies import CookieSigner
from shared.grpc.gen.envoy.service.auth.v3 import attribute_context_pb2, external_auth_pb2, external_auth_pb2_grpc
from shared.grpc.gen.warden.identity.v1 import identity_pb2, identity_pb2_grpc
from shared.grpc.gen.warden.session.v1 import session_pb2, session_pb2_grpc
from tests.factories import ThreadedWarden, running_warden, settings_for
from tests.gateway_helpers import (
    COOKIE_SECRET,
    INTERNAL_TOKEN,
    create_identity,
    gateway_config,
    log_out,
    sign_in,
)

AUTH = (("authorization", f"Bearer {INTERNAL_TOKEN}"),)
WAIT = 10.0  # a hung call fails the test instead of hanging it
STREAM_WAIT = 60.0  # a watch stream's whole life: it spans sign-ins and logouts on a busy machine


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    tmp = tmp_path_factory.mktemp("grpc")
    with running_warden(settings_for(tmp, f"sqlite:///{tmp}/db.sqlite", gateway_config())) as running:
        yield running


@pytest.fixture(scope="module")
def channel(warden: ThreadedWarden) -> Iterator[grpc.Channel]:
    assert warden.process.grpc_port
    with grpc.insecure_channel(f"127.0.0.1:{warden.process.grpc_port}") as opened:
        yield opened


@pytest.fixture
def sessions(channel: grpc.Channel) -> session_pb2_grpc.SessionServiceStub:
    return session_pb2_grpc.SessionServiceStub(channel)


def status_of(call: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value.code()


# -- SessionService.Check ---------------------------------------------------------------------------


def test_check_by_token_and_by_cookie(warden: ThreadedWarden, sessions: Any) -> None:
    identity = create_identity(warden.admin_url, {"email": "lin@example.com"})
    token, session = sign_in(warden.admin_url, identity)
    cookie = f"theme=dark; ory_kratos_session={CookieSigner([COOKIE_SECRET]).sign(token)}"
    for request in (session_pb2.CheckRequest(token=token), session_pb2.CheckRequest(cookie=cookie)):
        answer = sessions.Check(request, metadata=AUTH, timeout=WAIT)
        assert (answer.session.id, answer.session.identity_id, answer.session.aal) == (session["id"], identity, "aal1")
        assert answer.session.expires_at.seconds > 0
        assert b'"email":"lin@example.com"' in answer.session.json
        assert answer.headers["X-User-Email"] == "lin@example.com"
        assert answer.headers["X-Warden-Session-Id"] == session["id"]


def test_check_refusals(warden: ThreadedWarden, sessions: Any) -> None:
    token, _ = sign_in(warden.admin_url, create_identity(warden.admin_url))
    refused = {
        "no credential": session_pb2.CheckRequest(),
        "malformed token": session_pb2.CheckRequest(token="not a token \x7f" * 100),
        "unknown token": session_pb2.CheckRequest(token="ory_st_unknown"),
        "forged cookie": session_pb2.CheckRequest(cookie=f"ory_kratos_session={token}.forged"),
        "aal2 needed": session_pb2.CheckRequest(token=token, required_aal="aal2"),
        "unknown aal": session_pb2.CheckRequest(token=token, required_aal="aal9"),
    }
    codes = {name: status_of(lambda r=r: sessions.Check(r, metadata=AUTH, timeout=WAIT)) for name, r in refused.items()}
    assert codes == {
        "no credential": grpc.StatusCode.INVALID_ARGUMENT,
        "malformed token": grpc.StatusCode.UNAUTHENTICATED,
        "unknown token": grpc.StatusCode.UNAUTHENTICATED,
        "forged cookie": grpc.StatusCode.UNAUTHENTICATED,
        "aal2 needed": grpc.StatusCode.PERMISSION_DENIED,
        "unknown aal": grpc.StatusCode.INVALID_ARGUMENT,
    }


def test_calls_without_the_internal_token_or_with_oversized_metadata_are_refused(
    warden: ThreadedWarden, sessions: Any
) -> None:
    token, _ = sign_in(warden.admin_url, create_identity(warden.admin_url))
    request = session_pb2.CheckRequest(token=token)
    for metadata in ((), (("authorization", "Bearer wrong"),), (("x-warden-internal-token", INTERNAL_TOKEN[:-1]),)):
        assert status_of(lambda m=metadata: sessions.Check(request, metadata=m, timeout=WAIT)) == (
            grpc.StatusCode.PERMISSION_DENIED
        )
    oversized = (*AUTH, ("x-padding", "a" * 9000))
    assert status_of(lambda: sessions.Check(request, metadata=oversized, timeout=WAIT)) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    far_too_big = (*AUTH, ("x-padding", "a" * 100_000))
    assert status_of(lambda: sessions.Check(request, metadata=far_too_big, timeout=WAIT)) != grpc.StatusCode.OK
    assert sessions.Check(request, metadata=(("x-warden-internal-token", INTERNAL_TOKEN),), timeout=WAIT).session.id


# -- WatchRevocations ---------------------------------------------------------------------------------


def test_a_logout_reaches_a_revocation_watcher(warden: ThreadedWarden, sessions: Any) -> None:
    identity = create_identity(warden.admin_url)
    token, session = sign_in(warden.admin_url, identity)
    other_token, _ = sign_in(warden.admin_url, create_identity(warden.admin_url))
    stream = sessions.WatchRevocations(
        session_pb2.WatchRevocationsRequest(identity_id=identity), metadata=AUTH, timeout=STREAM_WAIT
    )
    stream.initial_metadata()  # subscribed
    log_out(warden.public_url, other_token)  # another identity's: filtered out
    log_out(warden.public_url, token)
    revocation = next(stream)
    stream.cancel()
    assert (revocation.session_id, revocation.identity_id) == (session["id"], identity)
    assert revocation.revoked_at.seconds > 0


def test_watching_needs_the_internal_token(sessions: Any) -> None:
    stream = sessions.WatchRevocations(session_pb2.WatchRevocationsRequest(), timeout=WAIT)
    assert status_of(lambda: next(stream)) == grpc.StatusCode.PERMISSION_DENIED


# -- IdentityService ------------------------------------------------------------------------------------


def test_identity_get_by_identifier_and_list(warden: ThreadedWarden, channel: grpc.Channel) -> None:
    identities = identity_pb2_grpc.IdentityServiceStub(channel)
    body = {
        "schema_id": "default",
        "traits": {"email": "mei@example.com", "name": {"first": "Mei"}},
        "credentials": {"password": {"config": {"password": "a long enough passphrase 42"}}},
    }
    created = urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=body).json()
    found = identities.Get(identity_pb2.GetRequest(id=created["id"]), metadata=AUTH, timeout=WAIT)
    assert (found.id, found.schema_id, found.state) == (created["id"], "default", "active")
    assert found.traits["name"]["first"] == "Mei"
    assert b"hashed_password" not in found.json and b'"credentials"' in found.json
    by_identifier = identities.GetByCredentialIdentifier(
        identity_pb2.GetByCredentialIdentifierRequest(type="password", identifier="mei@example.com"),
        metadata=AUTH,
        timeout=WAIT,
    )
    assert by_identifier.id == created["id"]

    seen, token = [], ""
    while True:
        page = identities.List(identity_pb2.ListRequest(page_size=2, page_token=token), metadata=AUTH, timeout=WAIT)
        seen += [i.id for i in page.identities]
        token = page.next_page_token
        assert not any(i.id in token for i in page.identities), "a token names no identity (secrets.pagination)"
        if not token:
            break
    assert created["id"] in seen and len(seen) == len(set(seen))
    whole = identities.List(identity_pb2.ListRequest(page_size=len(seen)), metadata=AUTH, timeout=WAIT)
    assert len(whole.identities) == len(seen) and whole.next_page_token == "", "no token after the last page"

    refusals = [
        lambda: identities.Get(identity_pb2.GetRequest(id="00000000-0000-0000-0000-000000000000"), metadata=AUTH),
        lambda: identities.Get(identity_pb2.GetRequest(id="'; drop table identities"), metadata=AUTH),
        lambda: identities.GetByCredentialIdentifier(
            identity_pb2.GetByCredentialIdentifierRequest(type="password", identifier="nobody@example.com"),
            metadata=AUTH,
        ),
        lambda: identities.List(identity_pb2.ListRequest(page_size=5000), metadata=AUTH),
        lambda: identities.List(identity_pb2.ListRequest(page_token="bogus"), metadata=AUTH),
        lambda: identities.Get(identity_pb2.GetRequest(id=created["id"])),
    ]
    assert [status_of(call) for call in refusals] == [
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.PERMISSION_DENIED,
    ]


# -- Envoy ext_authz ------------------------------------------------------------------------------------


def envoy_request(headers: dict[str, str], **extensions: str) -> Any:
    http = attribute_context_pb2.AttributeContext.HttpRequest(method="GET", path="/orders", headers=headers)
    attributes = attribute_context_pb2.AttributeContext(
        request=attribute_context_pb2.AttributeContext.Request(http=http), context_extensions=extensions
    )
    return external_auth_pb2.CheckRequest(attributes=attributes)


def test_envoy_check_request(warden: ThreadedWarden, channel: grpc.Channel) -> None:
    envoy = external_auth_pb2_grpc.AuthorizationStub(channel)
    identity = create_identity(warden.admin_url, {"email": "noor@example.com"})
    token, session = sign_in(warden.admin_url, identity)
    cookie = f"ory_kratos_session={CookieSigner([COOKIE_SECRET]).sign(token)}"

    for headers in ({"authorization": f"Bearer {token}"}, {"cookie": cookie}, {"x-session-token": token}):
        answer = envoy.Check(envoy_request(headers), metadata=AUTH, timeout=WAIT)
        assert answer.status.code == grpc.StatusCode.OK.value[0]
        added = {h.header.key: h.header.value for h in answer.ok_response.headers}
        assert added["X-Kratos-Authenticated-Identity-Id"] == identity
        assert added["X-Warden-Session-Id"] == session["id"]
        assert added["X-User-Email"] == "noor@example.com"
        assert list(answer.ok_response.headers_to_remove) == ["X-User-First-Name"]  # no such trait: no forgery

    denied = envoy.Check(envoy_request({"authorization": "Bearer ory_st_nope"}), metadata=AUTH, timeout=WAIT)
    assert (denied.status.code, denied.denied_response.status.code) == (grpc.StatusCode.UNAUTHENTICATED.value[0], 401)
    aal2 = envoy.Check(envoy_request({"x-session-token": token}, required_aal="aal2"), metadata=AUTH, timeout=WAIT)
    assert (aal2.status.code, aal2.denied_response.status.code) == (grpc.StatusCode.PERMISSION_DENIED.value[0], 403)
    assert status_of(lambda: envoy.Check(envoy_request({}), timeout=WAIT)) == grpc.StatusCode.PERMISSION_DENIED


# -- health and reflection -------------------------------------------------------------------------------


def test_health_answers_without_a_token_and_reflection_lists_the_services(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "warden.session.v1.SessionService", "warden.identity.v1.IdentityService"):
        answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=WAIT)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    # Watch is a stream a caller holds open: not for anyone who reaches the port.
    with pytest.raises(grpc.RpcError) as refused:
        next(health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=WAIT))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    watched = health.Watch(health_pb2.HealthCheckRequest(service=""), metadata=AUTH, timeout=WAIT)
    assert next(watched).status == health_pb2.HealthCheckResponse.SERVING
    watched.cancel()

    reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    answers = list(reflect.ServerReflectionInfo(iter([request]), metadata=AUTH, timeout=WAIT))
    names = {s.name for s in answers[0].list_services_response.service}
    assert {
        "warden.session.v1.SessionService",
        "warden.identity.v1.IdentityService",
        "envoy.service.auth.v3.Authorization",
        "grpc.health.v1.Health",
    } <= names
    request = reflection_pb2.ServerReflectionRequest(file_containing_symbol="warden.session.v1.SessionService")
    described = list(reflect.ServerReflectionInfo(iter([request]), metadata=AUTH, timeout=WAIT))
    assert described[0].file_descriptor_response.file_descriptor_proto
    no_token = reflect.ServerReflectionInfo(iter([request]), timeout=WAIT)
    assert status_of(lambda: list(no_token)) == grpc.StatusCode.PERMISSION_DENIED


def test_the_port_stays_closed_without_a_way_to_authenticate_callers(tmp_path: Path) -> None:
    config = gateway_config(services={})
    with running_warden(settings_for(tmp_path, f"sqlite:///{tmp_path}/db.sqlite", config)) as warden:
        assert warden.process.grpc_port is None
        assert urllib3.request("GET", f"{warden.public_url}/health/ready").status == 200


# -- across processes -------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.rabbitmq
def test_a_revocation_in_one_process_reaches_a_watcher_of_another(
    tmp_path: Path, pg_dsn: str, amqp_vhost: str, redis_url: str, redis_prefix: str
) -> None:
    """Two Warden processes on one database, broker and cache (replicas): the watcher is on one,
    the logout goes through the other, and the revocation crosses RabbitMQ."""
    shared = {"bus": {"url": amqp_vhost}, "cache": {"url": redis_url, "prefix": redis_prefix}}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        running_warden(settings_for(tmp_path / "a", pg_dsn, gateway_config(**shared))) as watched,
        running_warden(settings_for(tmp_path / "b", pg_dsn, gateway_config(**shared))) as other,
    ):
        identity = create_identity(other.admin_url)
        token, session = sign_in(other.admin_url, identity)
        with grpc.insecure_channel(f"127.0.0.1:{watched.process.grpc_port}") as channel:
            stub = session_pb2_grpc.SessionServiceStub(channel)
            assert stub.Check(session_pb2.CheckRequest(token=token), metadata=AUTH, timeout=WAIT).session.id
            stream = stub.WatchRevocations(session_pb2.WatchRevocationsRequest(), metadata=AUTH, timeout=STREAM_WAIT)
            stream.initial_metadata()
            log_out(other.public_url, token)
            revocation = next(stream)
            stream.cancel()
            assert (revocation.session_id, revocation.identity_id) == (session["id"], identity)
            assert status_of(
                lambda: stub.Check(session_pb2.CheckRequest(token=token), metadata=AUTH, timeout=WAIT)
            ) == (grpc.StatusCode.UNAUTHENTICATED)
