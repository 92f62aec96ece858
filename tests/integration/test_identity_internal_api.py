"""The identity service's internal API over HTTP, as another process calls it: `HttpIdentityClient`
with the internal token against the admin port of a running Warden (SQLite, plus one PostgreSQL
round trip)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import ory_kratos_client as kratos
import pytest
import urllib3
from ory_kratos_client.api.identity_api import IdentityApi

from shared import errors
from shared.clients.http import INTERNAL_TOKEN_HEADER, InternalHttp, Misconfigured
from shared.clients.identity import HttpIdentityClient
from shared.http.budget import DEADLINE_HEADER
from tests.factories import ThreadedWarden, running_warden, settings_for

TOKEN = "internal-token-for-tests"
UNKNOWN_ID = "9f4b4a62-35f5-4d0f-9a5a-2b0d1f0b8e11"


class SyncIdentityClient:
    """`HttpIdentityClient` run on the Warden's own loop (an aiohttp session belongs to one loop),
    each call made synchronously from the test: `client.verify_password("a@b.co", "pw")`."""

    def __init__(self, warden: ThreadedWarden, client: HttpIdentityClient) -> None:
        self._warden = warden
        self._client = client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        return lambda *args: self._warden.run(method(*args))


@contextmanager
def identity_client(
    warden: ThreadedWarden, token: str = TOKEN, base_url: str | None = None
) -> Iterator[SyncIdentityClient]:
    async def open_session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    session = warden.run(open_session())
    try:
        # No retries: a 5xx must show up here as it happened, not be retried away.
        http = InternalHttp(base_url or warden.admin_url, token, session, retries=0)
        yield SyncIdentityClient(warden, HttpIdentityClient(http))
    finally:
        warden.run(session.close())


def with_token(tmp_path: Path, dsn: str, **extra: Any) -> Any:
    return settings_for(tmp_path, dsn, extra={"services": {"internal_token": TOKEN}, **extra})


def password_body(email: str, password: str) -> dict[str, Any]:
    return {
        "schema_id": "default",
        "traits": {"email": email},
        "credentials": {"password": {"config": {"password": password}}},
    }


@pytest.fixture
def warden(tmp_path: Path) -> Iterator[ThreadedWarden]:
    with running_warden(with_token(tmp_path, f"sqlite://{tmp_path}/warden.sqlite")) as running:
        yield running


@pytest.fixture
def client(warden: ThreadedWarden) -> Iterator[SyncIdentityClient]:
    with identity_client(warden) as made:
        yield made


@pytest.fixture
def admin(warden: ThreadedWarden) -> Iterator[IdentityApi]:
    with kratos.ApiClient(kratos.Configuration(host=warden.admin_url)) as api_client:
        yield IdentityApi(api_client)


def test_info_names_the_service(client: SyncIdentityClient) -> None:
    info = client.info()
    assert info["service"] == "identity" and info["version"]


def test_create_then_get_shows_the_admin_view_without_secrets(client: SyncIdentityClient) -> None:
    created = client.create_identity(password_body("Ada@Example.com", "correct horse battery"))
    assert created["traits"] == {"email": "Ada@Example.com"}
    assert created["credentials"]["password"]["identifiers"] == ["ada@example.com"]
    fetched = client.get_identity(created["id"])
    assert fetched["id"] == created["id"] and fetched["schema_id"] == "default"
    assert "metadata_admin" in fetched and fetched["credentials"]["password"]["identifiers"] == ["ada@example.com"]
    raw = json.dumps([created, fetched])
    assert "hashed_password" not in raw and "$2a$" not in raw and "correct horse" not in raw


def test_unknown_identity_is_none(client: SyncIdentityClient) -> None:
    assert client.get_identity(UNKNOWN_ID) is None
    assert client.get_credential(UNKNOWN_ID, "password") is None


def test_create_errors_come_back_typed(client: SyncIdentityClient) -> None:
    with pytest.raises(errors.BadRequest) as bad:
        client.create_identity({"schema_id": "default", "traits": {"email": "not-an-email"}})
    assert "#/traits/email" in bad.value.reason
    client.create_identity({"schema_id": "default", "traits": {"email": "taken@example.com"}})
    with pytest.raises(errors.Conflict):
        client.create_identity({"schema_id": "default", "traits": {"email": "TAKEN@example.com"}})


def test_validate_identity_shows_the_code_addresses_and_stores_nothing(client: SyncIdentityClient) -> None:
    would_be = client.validate_identity({"schema_id": "default", "traits": {"email": "Zoe@Example.com"}})
    assert would_be["credentials"]["code"]["config"]["addresses"] == [
        {"channel": "email", "address": "zoe@example.com"}
    ]
    assert client.find_by_credential_identifier("code", "zoe@example.com") is None
    with pytest.raises(errors.BadRequest):
        client.validate_identity({"schema_id": "default", "traits": {"email": "not an email"}})


def test_update_credential_replaces_the_password(client: SyncIdentityClient) -> None:
    created = client.create_identity(password_body("grace@example.com", "the old password"))
    assert client.verify_password("grace@example.com", "the old password")["id"] == created["id"]
    updated = client.update_credential(created["id"], "password", {"password": "the new password"})
    assert updated["id"] == created["id"] and "hashed_password" not in json.dumps(updated)
    assert client.verify_password("grace@example.com", "the new password")["id"] == created["id"]
    assert client.verify_password("grace@example.com", "the old password") is None
    assert client.verify_password("nobody@example.com", "the new password") is None


def test_verify_password_finds_an_email_identifier_whatever_its_case(client: SyncIdentityClient) -> None:
    created = client.create_identity(password_body("lin@example.com", "a long enough password"))
    assert client.verify_password(" LIN@Example.com ", "a long enough password")["id"] == created["id"]


def test_get_credential_returns_the_secret_config(client: SyncIdentityClient) -> None:
    created = client.create_identity(password_body("mo@example.com", "a long enough password"))
    credential = client.get_credential(created["id"], "password")
    assert credential["type"] == "password" and credential["identifiers"] == ["mo@example.com"]
    assert credential["config"]["hashed_password"].startswith("$2a$04$")
    assert credential["version"] == 1
    assert client.get_credential(created["id"], "totp") is None


def test_mark_address_verified(client: SyncIdentityClient, admin: IdentityApi) -> None:
    created = client.create_identity({"schema_id": "default", "traits": {"email": "kim@example.com"}})
    assert created["verifiable_addresses"][0]["verified"] is False
    marked = client.mark_address_verified("email", "kim@example.com")
    assert marked["id"] == created["id"]
    (address,) = marked["verifiable_addresses"]
    assert (address["value"], address["verified"], address["status"]) == ("kim@example.com", True, "completed")
    assert address["verified_at"]
    (shown,) = admin.get_identity(created["id"]).verifiable_addresses
    assert (shown.verified, shown.status, shown.verified_at is not None) == (True, "completed", True)
    assert client.mark_address_verified("email", "nobody@example.com") is None


def test_a_wrong_or_missing_token_is_refused(warden: ThreadedWarden) -> None:
    """Refused as a service the caller cannot use (its user gets a 503), not as the user's 401."""
    for token in ("not-the-token", ""):
        with identity_client(warden, token) as stranger:
            with pytest.raises(Misconfigured):
                stranger.info()
            with pytest.raises(Misconfigured):
                stranger.verify_password("a@example.com", "whatever")


def test_answers_are_compact_json_and_keep_integers_past_64_bits(
    warden: ThreadedWarden, client: SyncIdentityClient
) -> None:
    """The distributed hops send no whitespace, and a value crosses them unchanged, whole integers
    past 64 bits included (orjson alone would read them back as floats)."""
    body = {**password_body("big@example.com", "a long enough password"), "metadata_public": {"n": 2**70}}
    created = client.create_identity(body)
    assert client.get_identity(created["id"])["metadata_public"] == {"n": 2**70}
    for method, path, sent in [
        ("GET", f"/internal/identity/identities/{created['id']}", None),
        ("POST", "/internal/identity/credentials/find", {"type": "password", "identifier": "big@example.com"}),
        ("GET", "/internal/identity/info", None),
    ]:
        response = urllib3.request(method, warden.admin_url + path, headers={INTERNAL_TOKEN_HEADER: TOKEN}, json=sent)
        assert response.status == 200 and response.headers["Content-Type"] == "application/json; charset=utf-8"
        assert b", " not in response.data and b'": ' not in response.data, response.data[:200]
        assert json.loads(response.data)


def test_a_write_with_malformed_metadata_is_refused_and_changes_nothing(
    warden: ThreadedWarden, client: SyncIdentityClient
) -> None:
    created = client.create_identity(password_body("meta@example.com", "a long enough password"))
    path = f"{warden.admin_url}/internal/identity/identities/{created['id']}"
    traits = {"email": "meta-changed@example.com"}
    for method, route, body in [
        ("PUT", "/traits", {"traits": traits, "metadata": "not an object"}),
        ("PUT", "/traits", {"traits": traits, "metadata": {"traits": {"email": "x@example.com"}}}),
        ("PUT", "/credentials/password", {"config": {"password": "another password"}, "metadata": [1]}),
        ("DELETE", "/credentials/password", {"metadata": {"state": "inactive"}}),
    ]:
        response = urllib3.request(method, path + route, headers={INTERNAL_TOKEN_HEADER: TOKEN}, json=body)
        assert response.status == 400, (route, response.data)
        assert "metadata must be an object of metadata_public and metadata_admin" in response.json()["error"]["reason"]
    unchanged = client.get_identity(created["id"])
    assert unchanged["traits"] == created["traits"] and unchanged["credentials"] == created["credentials"]
    assert client.verify_password("meta@example.com", "a long enough password") is not None


def test_a_password_hashed_after_its_caller_gave_up_is_not_stored(
    warden: ThreadedWarden, client: SyncIdentityClient
) -> None:
    """selfservice gives up on a create after its timeout and tells the user it failed; a hash that
    finishes later must not go on to create the identity (nor change a password) behind that error."""
    created = client.create_identity(password_body("kept@example.com", "a long enough password"))
    late = {INTERNAL_TOKEN_HEADER: TOKEN, DEADLINE_HEADER: f"{time.time() - 1:.3f}"}
    base = f"{warden.admin_url}/internal/identity/identities"
    for method, url, body in [
        ("POST", base, password_body("late@example.com", "a long enough password")),
        ("PUT", f"{base}/{created['id']}/credentials/password", {"config": {"password": "another password"}}),
    ]:
        response = urllib3.request(method, url, headers=late, json=body)
        assert response.status == 503, response.data
        assert response.json()["error"]["code"] == 503
    assert client.find_by_credential_identifier("password", "late@example.com") is None
    assert client.verify_password("kept@example.com", "a long enough password") is not None
    assert client.verify_password("kept@example.com", "another password") is None
    assert client.create_identity(password_body("late@example.com", "a long enough password"))["id"]


def test_the_internal_routes_are_not_on_the_public_port(warden: ThreadedWarden) -> None:
    for method, path in [
        ("GET", "/internal/identity/info"),
        ("POST", "/internal/identity/password/verify"),
        ("GET", f"/internal/identity/identities/{UNKNOWN_ID}"),
    ]:
        response = urllib3.request(
            method,
            warden.public_url + path,
            headers={INTERNAL_TOKEN_HEADER: TOKEN},
            json={"identifier": "a@example.com", "password": "x"} if method == "POST" else None,
        )
        assert response.status == 404, (method, path, response.status)


@pytest.mark.postgres
def test_round_trip_on_postgres(tmp_path: Path, pg_dsn: str) -> None:
    with running_warden(with_token(tmp_path, pg_dsn)) as running, identity_client(running) as client:
        created = client.create_identity(password_body("pg@example.com", "a long enough password"))
        assert client.get_identity(created["id"])["traits"] == {"email": "pg@example.com"}
        assert client.get_identity(UNKNOWN_ID) is None
        assert client.verify_password("pg@example.com", "a long enough password")["id"] == created["id"]
        assert client.verify_password("pg@example.com", "wrong") is None
        client.update_credential(created["id"], "password", {"password": "another long password"})
        assert client.verify_password("pg@example.com", "another long password")["id"] == created["id"]
        assert client.get_credential(created["id"], "password")["config"]["hashed_password"].startswith("$2a$04$")
        assert client.mark_address_verified("email", "pg@example.com")["verifiable_addresses"][0]["verified"] is True
        assert client.mark_address_verified("email", "nobody@example.com") is None


def test_second_factor_attempts_for_an_id_of_no_identity_are_counted_not_refused(warden: ThreadedWarden) -> None:
    """A self-service process of before code_attempt, during a rolling upgrade, counts a code sent to
    no account under a stand-in id: it gets the known addresses' answers (a count, then a block),
    never a 404 that only unknown addresses would get."""
    path = f"{warden.admin_url}/internal/identity/identities/{uuid.uuid4()}/second-factor-attempts"
    statuses = [
        urllib3.request("POST", path, headers={INTERNAL_TOKEN_HEADER: TOKEN}, json={"outcome": "check"}).status
        for _ in range(8)
    ]
    assert statuses == [200] * 6 + [429, 429], statuses  # the sixth sets the first block
