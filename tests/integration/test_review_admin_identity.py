"""Findings of the review of the identity admin API and the identity service (admin port, internal
API), on SQLite and PostgreSQL, through real HTTP: one test per finding. Raw JSON bodies, because
Kratos's SDK would refuse to send what an attacker sends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from tests.conftest import unique
from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import database, selfservice_settings


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def warden(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("review-admin")
    with database(request.param, directory) as dsn, running_warden(selfservice_settings(directory, dsn)) as running:
        yield running


def call(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    response = urllib3.request(method, url, json=body)
    return response.status, json.loads(response.data) if response.data else None


def test_an_identifier_longer_than_its_column_is_a_400_and_a_batch_stores_the_other_items(
    warden: ThreadedWarden,
) -> None:
    """PostgreSQL refused an identifier (or a social sign-in's provider:subject) of over 512
    characters as a 500, and in a batch import the whole transaction with it: every other item was
    lost too. SQLite stored it."""
    long_name = unique("u") + "u" * 600
    too_long = [
        {"schema_id": "username", "traits": {"username": long_name}},
        {
            "schema_id": "default",
            "traits": {"email": f"{unique('oidc')}@example.com"},
            "credentials": {"oidc": {"config": {"providers": [{"provider": "google", "subject": "s" * 600}]}}},
        },
    ]
    for body in too_long:
        status, answer = call("POST", f"{warden.admin_url}/admin/identities", body)
        assert status == 400, answer
        assert "at most 512 characters" in answer["error"]["reason"], answer

    fine = unique("fine")
    status, answer = call(
        "PATCH",
        f"{warden.admin_url}/admin/identities",
        {"identities": [{"create": too_long[0]}, {"create": {"schema_id": "username", "traits": {"username": fine}}}]},
    )
    assert status == 200, answer
    first, second = answer["identities"]
    assert first["action"] == "error" and first["error"]["code"] == 400, first
    assert second["action"] == "create", second
    status, found = call("GET", f"{warden.admin_url}/admin/identities?credentials_identifier={fine}")
    assert status == 200 and [i["id"] for i in found] == [second["identity"]], found

    status, created = call(
        "POST", f"{warden.admin_url}/admin/identities", {"schema_id": "username", "traits": {"username": unique("p")}}
    )
    assert status == 201, created
    status, answer = call(
        "PATCH",
        f"{warden.admin_url}/admin/identities/{created['id']}",
        [{"op": "replace", "path": "/traits/username", "value": long_name}],
    )
    assert status == 400, answer


def _codes(count: int, prefix: str) -> dict[str, Any]:
    return {"lookup_secret": {"config": {"codes": [{"code": f"{prefix}{i:06d}"} for i in range(count)]}}}


def test_backup_codes_an_import_would_seal_are_bounded_per_set_and_per_batch(warden: ThreadedWarden) -> None:
    """Every backup code imported in clear is sealed by one argon2 run on the threads that check
    passwords: a set of 3,000 codes (60 KB) held a password login for 29 s, and a 1 MB body would
    have held every login for minutes."""
    email = f"{unique('codes')}@example.com"
    body = {"schema_id": "default", "traits": {"email": email}, "credentials": _codes(101, "a")}
    status, answer = call("POST", f"{warden.admin_url}/admin/identities", body)
    assert status == 400, answer
    assert "at most 100 codes" in answer["error"]["reason"], answer

    emails = [f"{unique('batch-codes')}@example.com" for _ in range(25)]
    items = [
        {"create": {"schema_id": "default", "traits": {"email": e}, "credentials": _codes(100, "b")}} for e in emails
    ]
    status, answer = call("PATCH", f"{warden.admin_url}/admin/identities", {"identities": items})
    assert status == 400, answer
    assert "at most 2400 backup codes" in answer["error"]["reason"], answer
    status, found = call("GET", f"{warden.admin_url}/admin/identities?credentials_identifier={emails[0]}")
    assert status == 200 and found == [], found

    # Kratos's sets of 12 still import, in a batch of 200 identities' worth.
    body["credentials"] = _codes(12, "c")
    status, created = call("POST", f"{warden.admin_url}/admin/identities", body)
    assert status == 201, created
    url = f"{warden.admin_url}/admin/identities/{created['id']}?include_credential=lookup_secret"
    status, shown = call("GET", url)
    assert status == 200 and len(shown["credentials"]["lookup_secret"]["config"]["recovery_codes"]) == 12, shown
