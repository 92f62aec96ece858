"""`DELETE /admin/identities/{id}/credentials/webauthn`, on SQLite and on PostgreSQL: as in Kratos,
it removes the security keys registered as a second factor and keeps the passwordless ones (a way
in); the credential goes only when no key is left."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden, settings_for

RP = {"id": "warden.test", "origin": "https://warden.test", "display_name": "Warden Tests"}
MFA_KEY = {"id": "bWZhLWtleQ", "public_key": "cHVi", "display_name": "yubikey", "is_passwordless": False}
PASSWORDLESS_KEY = {"id": "cGwta2V5", "public_key": "cHVi", "display_name": "laptop", "is_passwordless": True}


@pytest.fixture(params=[False, True], ids=["second-factor", "passwordless"])
def warden(request: pytest.FixtureRequest, tmp_path: Path, any_dsn: str) -> Iterator[ThreadedWarden]:
    webauthn = {"enabled": True, "config": {"rp": RP, "passwordless": request.param}}
    extra = {"selfservice": {"methods": {"webauthn": webauthn}}}
    with running_warden(settings_for(tmp_path, any_dsn, extra)) as running:
        yield running


def _with_keys(warden: ThreadedWarden, email: str, *keys: dict[str, Any]) -> str:
    credentials: dict[str, Any] = {"webauthn": {"config": {"credentials": list(keys), "user_handle": "aGFuZGxl"}}}
    if not any(k["is_passwordless"] for k in keys):
        credentials["password"] = {"config": {"password": "a long enough password"}}  # its way in
    body = {"schema_id": "default", "traits": {"email": email}, "credentials": credentials}
    created = urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=body)
    assert created.status == 201, created.data
    return str(json.loads(created.data)["id"])


def _delete_webauthn(warden: ThreadedWarden, identity_id: str) -> int:
    return urllib3.request("DELETE", f"{warden.admin_url}/admin/identities/{identity_id}/credentials/webauthn").status


def _webauthn(warden: ThreadedWarden, identity_id: str) -> dict[str, Any] | None:
    url = f"{warden.admin_url}/admin/identities/{identity_id}"
    answer = urllib3.request("GET", url, fields={"include_credential": "webauthn"})
    assert answer.status == 200, answer.data
    credential: dict[str, Any] | None = json.loads(answer.data)["credentials"].get("webauthn")
    return credential


def test_only_second_factor_keys_are_removed_and_passwordless_ones_stay(warden: ThreadedWarden) -> None:
    mixed = _with_keys(warden, "mixed@example.com", MFA_KEY, PASSWORDLESS_KEY)
    assert _delete_webauthn(warden, mixed) == 204
    kept = _webauthn(warden, mixed)
    assert kept is not None, "the passwordless key went with the second factor"
    assert [k["id"] for k in kept["config"]["credentials"]] == [PASSWORDLESS_KEY["id"]]
    assert kept["config"]["user_handle"] == "aGFuZGxl"
    assert kept["identifiers"] == ["mixed@example.com"]


def test_a_credential_of_passwordless_keys_only_is_kept_whole(warden: ThreadedWarden) -> None:
    # With passwordless sign-in on, this key is the identity's only way in: the old code refused
    # with "the last first factor"; Kratos answers 204 and keeps it.
    alone = _with_keys(warden, "passwordless@example.com", PASSWORDLESS_KEY)
    assert _delete_webauthn(warden, alone) == 204
    kept = _webauthn(warden, alone)
    assert kept is not None and [k["id"] for k in kept["config"]["credentials"]] == [PASSWORDLESS_KEY["id"]]


def test_a_credential_of_second_factor_keys_only_goes(warden: ThreadedWarden) -> None:
    second = _with_keys(warden, "mfa@example.com", MFA_KEY, {**MFA_KEY, "id": "b3RoZXI"})
    assert _delete_webauthn(warden, second) == 204
    assert _webauthn(warden, second) is None
    assert _delete_webauthn(warden, second) == 404  # nothing left to remove
