"""Findings of the security and resilience review (issue 20, part B) that show at the HTTP edge,
on SQLite and PostgreSQL: one test per finding, named after it. Raw JSON bodies, because Kratos's
SDK would refuse to send what an attacker sends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from tests.conftest import unique
from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import PASSWORD, create_identity, database, selfservice_settings

LONE_SURROGATE = b'"\\ud800"'  # JSON's escape for half a UTF-16 pair: decodes to a str UTF-8 cannot encode


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def warden(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("review")
    with database(request.param, directory) as dsn, running_warden(selfservice_settings(directory, dsn)) as running:
        yield running


def post_raw(url: str, body: bytes) -> tuple[int, Any]:
    response = urllib3.request(
        "POST", url, body=body, headers={"Content-Type": "application/json", "Accept": "application/json"}
    )
    return response.status, json.loads(response.data)


def api_flow(warden: ThreadedWarden, kind: str) -> str:
    response = urllib3.request("GET", f"{warden.public_url}/self-service/{kind}/api")
    assert response.status == 200, response.data
    return f"{warden.public_url}/self-service/{kind}?flow={json.loads(response.data)['id']}"


def test_finding_10_lone_surrogate_in_an_identifier_or_trait_is_a_400(warden: ThreadedWarden) -> None:
    email = f"{unique('surrogate')}@example.com".encode()
    password = json.dumps(PASSWORD).encode()
    create_identity(warden.admin_url, email.decode())
    cases = [
        (
            api_flow(warden, "login"),
            b'{"method": "password", "identifier": "a' + LONE_SURROGATE[1:] + b', "password": ' + password + b"}",
        ),
        (
            api_flow(warden, "registration"),
            b'{"method": "password", "traits": {"email": ' + LONE_SURROGATE + b'}, "password": ' + password + b"}",
        ),
        (
            f"{warden.admin_url}/admin/identities",
            b'{"schema_id": "default", "traits": {"email": "x' + LONE_SURROGATE[1:] + b"}}",
        ),
        (
            f"{warden.admin_url}/admin/identities",
            b'{"schema_id": "default", "traits": {"email": "' + email + b'", "name": ' + LONE_SURROGATE + b"}}",
        ),
    ]
    for url, body in cases:
        status, answer = post_raw(url, body)
        assert status == 400, (url, answer)
        assert answer["error"]["code"] == 400 and "surrogate" in answer["error"]["reason"], answer


def test_finding_12_a_password_that_is_not_a_string_is_a_400(warden: ThreadedWarden) -> None:
    email = f"{unique('array')}@example.com"
    create_identity(warden.admin_url, email)
    for kind, body in (
        ("registration", {"method": "password", "traits": {"email": f"new-{email}"}, "password": [PASSWORD]}),
        ("login", {"method": "password", "identifier": email, "password": [PASSWORD]}),
        ("login", {"method": "password", "identifier": [email], "password": PASSWORD}),
        ("registration", {"method": "password", "traits": {"email": f"n-{email}"}, "password": {"a": PASSWORD}}),
    ):
        status, answer = post_raw(api_flow(warden, kind), json.dumps(body).encode())
        assert status == 400 and answer["error"]["code"] == 400, (kind, answer)
        assert "must be a string" in answer["error"]["reason"], answer
    # The same password as a string still signs in.
    status, answer = post_raw(
        api_flow(warden, "login"),
        json.dumps({"method": "password", "identifier": email, "password": PASSWORD}).encode(),
    )
    assert status == 200, answer
