"""Findings of the security and resilience review (issue 20, part B) that show at the HTTP edge,
on SQLite and PostgreSQL: one test per finding, named after it. Raw JSON bodies, because Kratos's
SDK would refuse to send what an attacker sends."""

from __future__ import annotations

import json
import logging
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


def test_finding_17_a_relative_return_to_is_accepted_as_kratos_does(warden: ThreadedWarden) -> None:
    response = urllib3.request("GET", f"{warden.public_url}/self-service/login/api?return_to=/app/dashboard")
    assert response.status == 200, response.data
    assert json.loads(response.data)["return_to"] == "http://127.0.0.1:4455/app/dashboard"
    refused = urllib3.request("GET", f"{warden.public_url}/self-service/login/api?return_to=//evil.example/app/")
    assert refused.status == 400
    assert json.loads(refused.data)["error"]["id"] == "self_service_flow_return_to_forbidden"


CORS = {
    "enabled": True,
    "allowed_origins": ["https://app.example.com", "https://*.tenant.example.com"],
    "max_age": 600,
}


@pytest.fixture(scope="module")
def cors_warden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("cors")
    settings = selfservice_settings(directory, "memory", serve={"public": {"cors": CORS}})
    with running_warden(settings) as running:
        yield running


def test_finding_17_serve_public_cors_answers_preflights_and_marks_allowed_origins(
    cors_warden: ThreadedWarden,
) -> None:
    url = f"{cors_warden.public_url}/sessions/whoami"
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "X-Session-Token"}
    for origin in ("https://app.example.com", "https://eu.tenant.example.com"):
        answer = urllib3.request("OPTIONS", url, headers={"Origin": origin, **preflight})
        assert answer.status == 204, answer.data
        assert answer.headers["Access-Control-Allow-Origin"] == origin
        assert answer.headers["Access-Control-Allow-Methods"] == "GET"
        assert answer.headers["Access-Control-Allow-Headers"] == "X-Session-Token"
        assert answer.headers["Access-Control-Allow-Credentials"] == "true"
        assert answer.headers["Access-Control-Max-Age"] == "600"
        # The real request (a 401 without a session) carries the headers too, so the SPA can read it.
        real = urllib3.request("GET", url, headers={"Origin": origin})
        assert real.status == 401 and real.headers["Access-Control-Allow-Origin"] == origin
    for origin, headers in (
        ("https://evil.example", preflight),
        ("https://app.example.com", {"Access-Control-Request-Method": "TRACE"}),
        (
            "https://app.example.com",
            {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "X-Evil"},
        ),
    ):
        refused = urllib3.request("OPTIONS", url, headers={"Origin": origin, **headers})
        assert refused.status == 204 and "Access-Control-Allow-Origin" not in refused.headers, origin
    real = urllib3.request("GET", url, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in real.headers
    # The admin port has no CORS: a preflight there is refused as before.
    admin = urllib3.request(
        "OPTIONS",
        f"{cors_warden.admin_url}/admin/identities",
        headers={"Origin": "https://app.example.com", **preflight},
    )
    assert admin.status == 405 and "Access-Control-Allow-Origin" not in admin.headers


def test_finding_17_start_up_warns_about_published_secrets_and_a_lone_service_without_internal_token(
    tmp_path_factory: pytest.TempPathFactory, caplog: pytest.LogCaptureFixture
) -> None:
    from warden.services import by_name

    directory = tmp_path_factory.mktemp("weak")
    quickstart = {"cookie": ["PLEASE-CHANGE-ME-I-AM-VERY-INSECURE"], "cipher": ["32-LONG-SECRET-NOT-SECURE-AT-ALL"]}
    elsewhere = {"internal_url": "http://127.0.0.1:9"}  # never called: the test only starts the process
    settings = selfservice_settings(
        directory, "memory", secrets=quickstart, services={"internal_token": "", "identity": elsewhere}
    )
    with caplog.at_level(logging.WARNING, logger="warden.process"), running_warden(settings, [by_name("session")]):
        pass
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("secrets.cookie[0] is a published example value" in w for w in warnings), warnings
    assert any("secrets.cipher[0] is a published example value" in w for w in warnings), warnings
    assert any("services.internal_token is not set" in w for w in warnings), warnings
    assert not any("PLEASE-CHANGE-ME" in w or "NOT-SECURE" in w for w in warnings)  # the key, never the value

    caplog.clear()
    strong = selfservice_settings(tmp_path_factory.mktemp("strong"), "memory")
    with caplog.at_level(logging.WARNING, logger="warden.process"), running_warden(strong):
        pass
    assert not [r for r in caplog.records if "config:" in r.getMessage()]
