"""Imported credentials are typed as Kratos binds them (Go structs): a value of the wrong type is a 400
naming the field, for a create, a full update and each item of a batch alone, on SQLite and on
PostgreSQL. Stored as given, a number for a password was hashed as its digits, and a number for a
social subject made an identifier no sign-in could ever match."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden, settings_for

BCRYPT = "$2a$04$8Qx1mVY6hAXhhlS6m8pD5OQdD9GAH1OzGHC2QEzZ9mH5dWvKV4xTS"
GOOD_PROVIDER = {"provider": "google", "subject": "g-1"}

# (credentials, the field the answer names)
LOOSELY_TYPED: list[tuple[dict[str, Any], str]] = [
    ({"password": {"config": {"password": 12345678901}}}, "credentials.password.config.password"),
    ({"password": {"config": {"password": True}}}, "credentials.password.config.password"),
    ({"password": {"config": {"hashed_password": [BCRYPT]}}}, "credentials.password.config.hashed_password"),
    ({"password": {"config": {"hashed_password": 42}}}, "credentials.password.config.hashed_password"),
    (
        {"password": {"config": {"use_password_migration_hook": "yes"}}},
        "credentials.password.config.use_password_migration_hook",
    ),
    ({"oidc": {"config": {"providers": ["google:g-1"]}}}, "credentials.oidc.config.providers.0"),
    ({"oidc": {"config": {"providers": GOOD_PROVIDER}}}, "credentials.oidc.config.providers"),
    ({"oidc": {"config": {"providers": [{"provider": "google", "subject": 123}]}}}, "providers.0.subject"),
    ({"oidc": {"config": {"providers": [{"provider": ["google"], "subject": "s"}]}}}, "providers.0.provider"),
    ({"oidc": {"config": {"providers": [{**GOOD_PROVIDER, "use_auto_link": "1"}]}}}, "providers.0.use_auto_link"),
    ({"oidc": {"config": {"providers": [{**GOOD_PROVIDER, "organization": 7}]}}}, "providers.0.organization"),
    ({"saml": {"config": {"providers": [{"provider": 1, "subject": "s"}]}}}, "credentials.saml.config.providers.0"),
    ({"totp": {"config": {"totp_url": 5}}}, "credentials.totp.config.totp_url"),
    ({"lookup_secret": {"config": {"codes": [{"code": 1234}]}}}, "credentials.lookup_secret.config.codes.0.code"),
    ({"lookup_secret": {"config": {"codes": ["abcd1234"]}}}, "credentials.lookup_secret.config.codes.0"),
    ({"webauthn": {"config": {"credentials": ["key"]}}}, "credentials.webauthn.config.credentials.0"),
    (
        {"webauthn": {"config": {"credentials": [{"id": "a2V5", "is_passwordless": "false"}]}}},
        "credentials.webauthn.config.credentials.0.is_passwordless",
    ),
    ({"passkey": {"config": {"credentials": [{"id": 1}], "user_handle": "aA"}}}, "passkey.config.credentials.0.id"),
    ({"passkey": {"config": {"credentials": [], "user_handle": 5}}}, "credentials.passkey.config.user_handle"),
    # Not base64 at all: it decoded to no handle, the empty identifier, which the next such import took too.
    ({"passkey": {"config": {"credentials": [], "user_handle": "!!!"}}}, "credentials.passkey.config.user_handle"),
    ({"webauthn": {"config": {"user_handle": [104, 300]}}}, "credentials.webauthn.config.user_handle"),
    (
        {"passkey": {"config": {"credentials": [{"id": "a2V5", "authenticator": {"sign_count": "3"}}]}}},
        "credentials.passkey.config.credentials.0.authenticator.sign_count",
    ),
]


# What Kratos binds (and so must still be imported): every optional field null, byte fields as
# base64 text or as the arrays of byte values api.json describes, fields the types do not name.
WELL_TYPED: dict[str, Any] = {
    "password": {"config": {"hashed_password": None, "password": "a long enough password"}},
    "oidc": {"config": {"providers": [{**GOOD_PROVIDER, "use_auto_link": True, "organization": None}]}},
    "totp": {"config": {"totp_url": "otpauth://totp/Warden:x?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Warden"}},
    "lookup_secret": {"config": {"codes": [{"code": "abcd1234", "used_at": None}, {"code": "efgh5678"}]}},
    "webauthn": {
        "config": {
            "credentials": [{"id": [1, 2, 3], "public_key": "cHVi", "is_passwordless": False, "attestation": {}}],
            "user_handle": [104, 97],
        }
    },
    "passkey": {
        "config": {
            "credentials": [
                {"id": "a2V5", "authenticator": {"aaguid": "AAAA", "sign_count": 3, "clone_warning": False}}
            ],
            "user_handle": "aGFuZGxl",
        }
    },
}


@pytest.fixture
def warden(tmp_path: Path, any_dsn: str) -> Iterator[ThreadedWarden]:
    with running_warden(settings_for(tmp_path, any_dsn)) as running:
        yield running


def _body(email: str, credentials: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"schema_id": "default", "state": "active", "traits": {"email": email}}
    if credentials is not None:
        body["credentials"] = credentials
    return body


def _listed(warden: ThreadedWarden) -> list[dict[str, Any]]:
    answer = urllib3.request("GET", f"{warden.admin_url}/admin/identities")
    assert answer.status == 200, answer.data
    listed: list[dict[str, Any]] = json.loads(answer.data)
    return listed


def _assert_refused(answer: urllib3.BaseHTTPResponse, field: str) -> None:
    assert answer.status == 400, (field, answer.status, answer.data)
    error = json.loads(answer.data)["error"]
    assert error["code"] == 400 and field in error["reason"], (field, error)


@pytest.mark.parametrize("credentials, field", LOOSELY_TYPED, ids=[f for _, f in LOOSELY_TYPED])
def test_a_create_with_a_loosely_typed_credential_is_a_400_naming_the_field(
    warden: ThreadedWarden, credentials: dict[str, Any], field: str
) -> None:
    answer = urllib3.request(
        "POST", f"{warden.admin_url}/admin/identities", json=_body("typed@example.com", credentials)
    )
    _assert_refused(answer, field)
    assert _listed(warden) == []


def test_well_typed_credentials_of_every_kind_are_still_imported(warden: ThreadedWarden) -> None:
    answer = urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=_body("well@example.com", WELL_TYPED))
    assert answer.status == 201, answer.data
    assert set(WELL_TYPED) <= set(json.loads(answer.data)["credentials"])


def test_a_full_update_with_a_loosely_typed_credential_changes_nothing(warden: ThreadedWarden) -> None:
    admin = f"{warden.admin_url}/admin/identities"
    created = urllib3.request("POST", admin, json=_body("update@example.com"))
    assert created.status == 201, created.data
    url = f"{admin}/{json.loads(created.data)['id']}"
    before = urllib3.request("GET", url, fields=[("include_credential", "password"), ("include_credential", "oidc")])
    for credentials, field in LOOSELY_TYPED[:2] + LOOSELY_TYPED[7:9]:
        _assert_refused(urllib3.request("PUT", url, json=_body("update@example.com", credentials)), field)
    after = urllib3.request("GET", url, fields=[("include_credential", "password"), ("include_credential", "oidc")])
    assert json.loads(after.data) == json.loads(before.data)


def test_a_batch_answers_each_loosely_typed_item_alone_and_stores_the_others(warden: ThreadedWarden) -> None:
    good = {
        "password": {"config": {"password": "a long enough password"}},
        "oidc": {"config": {"providers": [GOOD_PROVIDER]}},
    }
    cases = [(good, ""), *LOOSELY_TYPED, (good, "")]
    items = [
        {"patch_id": f"00000000-0000-4000-8000-{n:012d}", "create": _body(f"batch{n}@example.com", credentials)}
        for n, (credentials, _) in enumerate(cases)
    ]
    items[-1]["create"]["credentials"] = {"password": good["password"]}  # its provider is the first's
    answer = urllib3.request("PATCH", f"{warden.admin_url}/admin/identities", json={"identities": items})
    assert answer.status == 200, answer.data
    results = json.loads(answer.data)["identities"]
    assert [r["patch_id"] for r in results] == [i["patch_id"] for i in items]
    assert [r["action"] for r in results] == ["create"] + ["error"] * len(LOOSELY_TYPED) + ["create"]
    for result, (_, field) in zip(results[1:-1], LOOSELY_TYPED, strict=True):
        assert result["error"]["code"] == 400 and field in result["error"]["reason"], (field, result)
    assert sorted(i["traits"]["email"] for i in _listed(warden)) == [
        "batch0@example.com",
        f"batch{len(cases) - 1}@example.com",
    ]
