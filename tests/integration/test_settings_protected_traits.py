"""Settings: which profile changes need a privileged session (a recent sign-in), on SQLite and
PostgreSQL, over real HTTP with Kratos's native settings API.

Kratos refuses, from a session older than `privileged_session_max_age`, any traits change that
changes the identity's credential identifiers, verifiable addresses or recovery addresses
(`identity/manager.go` `ErrProtectedFieldModified`, KRATOS_NOTES §3): it compares what the
identity would become, so it does not matter where in the schema the `ory.sh/kratos` extension
sits. Kratos's own multi-address example schema puts it on an array's `items`; a map of addresses
puts it under `additionalProperties`.

Reference: KRATOS_NOTES §3 (privileged sessions), §2.7 (403 `session_refresh_required`)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import CONFIGURED_BASE as PUBLIC_BASE
from tests.selfservice_helpers import PASSWORD, database, selfservice_settings

PRIVILEGED_MAX_AGE_SECONDS = 2  # long enough for a fresh sign-in to change its password on a busy machine
EXTENSION = {
    "credentials": {"password": {"identifier": True}},
    "verification": {"via": "email"},
    "recovery": {"via": "email"},
}
# An identity with any number of email addresses, each one a login identifier and a recovery address.
MULTI_EMAIL_SCHEMA: dict[str, Any] = {
    "$id": "https://warden.test/schemas/multi.json",
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "traits": {
            "type": "object",
            "properties": {
                "emails": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "string", "format": "email", "ory.sh/kratos": EXTENSION},
                },
                "contacts": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "format": "email", "ory.sh/kratos": EXTENSION},
                },
                "nickname": {"type": "string"},
            },
            "required": ["emails"],
            "additionalProperties": False,
        }
    },
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def warden(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("settings-protected")
    (directory / "multi.schema.json").write_text(json.dumps(MULTI_EMAIL_SCHEMA))
    identity = {
        "default_schema_id": "default",
        "schemas": [
            {"id": "default", "url": f"file://{directory}/default.schema.json"},
            {"id": "multi", "url": f"file://{directory}/multi.schema.json"},
        ],
    }
    flows = {"settings": {"privileged_session_max_age": f"{PRIVILEGED_MAX_AGE_SECONDS}s"}}
    with (
        database(request.param, directory) as dsn,
        running_warden(selfservice_settings(Path(directory), dsn, flows=flows, identity=identity)) as running,
    ):
        yield running


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _identity(warden: ThreadedWarden, traits: dict[str, Any]) -> str:
    created = urllib3.request(
        "POST",
        f"{warden.admin_url}/admin/identities",
        json={
            "schema_id": "multi",
            "traits": traits,
            "credentials": {"password": {"config": {"password": PASSWORD}}},
        },
    )
    assert created.status == 201, created.data
    return str(created.json()["id"])


def _stale_session(warden: ThreadedWarden, identifier: str) -> str:
    """A session token whose sign-in is older than the privileged session's maximum age."""
    token = _signed_in(warden, identifier)
    time.sleep(PRIVILEGED_MAX_AGE_SECONDS + 0.5)
    return token


def _submit_settings(warden: ThreadedWarden, token: str, body: dict[str, Any]) -> urllib3.BaseHTTPResponse:
    """A new API settings flow for the session, submitted with `body`."""
    headers = {"X-Session-Token": token}
    flow = urllib3.request("GET", f"{warden.public_url}/self-service/settings/api", headers=headers)
    assert flow.status == 200, flow.data
    return urllib3.request(
        "POST", f"{warden.public_url}/self-service/settings?flow={flow.json()['id']}", json=body, headers=headers
    )


def _change_profile(warden: ThreadedWarden, token: str, traits: dict[str, Any]) -> urllib3.BaseHTTPResponse:
    return _submit_settings(warden, token, {"method": "profile", "traits": traits})


def _signed_in(warden: ThreadedWarden, identifier: str) -> str:
    flow = urllib3.request("GET", f"{warden.public_url}/self-service/login/api").json()
    done = urllib3.request(
        "POST",
        f"{warden.public_url}/self-service/login?flow={flow['id']}",
        json={"method": "password", "identifier": identifier, "password": PASSWORD},
    )
    assert done.status == 200, done.data
    return str(done.json()["session_token"])


def _set_password(warden: ThreadedWarden, token: str, password: str) -> urllib3.BaseHTTPResponse:
    return _submit_settings(warden, token, {"method": "password", "password": password})


def _traits(warden: ThreadedWarden, identity_id: str) -> Any:
    return urllib3.request("GET", f"{warden.admin_url}/admin/identities/{identity_id}").json()["traits"]


def test_an_old_session_cannot_replace_addresses_kept_in_an_array(warden: ThreadedWarden) -> None:
    """Whoever holds a stolen, old session must not swap the account's login and recovery addresses
    for their own: that is an account takeover through recovery."""
    mine = _email("owner")
    identity_id = _identity(warden, {"emails": [mine]})
    token = _stale_session(warden, mine)

    refused = _change_profile(warden, token, {"emails": [_email("thief")]})
    assert refused.status == 403, refused.data
    assert refused.json()["error"]["id"] == "session_refresh_required"
    assert _traits(warden, identity_id) == {"emails": [mine]}, "the addresses changed without a recent sign-in"

    kept = _change_profile(warden, token, {"emails": [mine], "nickname": "Ada"})
    assert kept.status == 200, "a change that touches no address needs no recent sign-in"
    assert _traits(warden, identity_id) == {"emails": [mine], "nickname": "Ada"}


def test_an_old_session_is_told_to_sign_in_again_in_kratos_s_words(warden: ThreadedWarden) -> None:
    """Kratos's `NewFlowNeedsReAuth`: herodot's 403 with the id `session_refresh_required`, and
    `redirect_browser_to` the refresh login returning to the settings endpoint with the flow, which
    it names for API flows too (`reauthenticate` takes the request's own path and query)."""
    mine = _email("refresh")
    _identity(warden, {"emails": [mine]})
    refused = _set_password(warden, _stale_session(warden, mine), "Another-Long-Password-5381")
    assert refused.status == 403, refused.data
    flow_id = refused.json()["redirect_browser_to"].rsplit("flow%3D", 1)[1]
    assert refused.json()["error"] | {"request": None} == {
        "id": "session_refresh_required",
        "code": 403,
        "status": "Forbidden",
        "message": "The requested action was forbidden",
        "reason": "The login session is too old and thus not allowed to update these fields. Please re-authenticate.",
        "request": None,
    }
    settings = f"{PUBLIC_BASE}/self-service/settings?{urlencode({'flow': flow_id})}"
    login = f"{PUBLIC_BASE}/self-service/login/browser?{urlencode({'refresh': 'true', 'return_to': settings})}"
    assert refused.json()["redirect_browser_to"] == login


def test_an_old_session_cannot_add_an_address_kept_in_a_map(warden: ThreadedWarden) -> None:
    mine = _email("mapped")
    identity_id = _identity(warden, {"emails": [mine], "contacts": {}})
    token = _stale_session(warden, mine)

    refused = _change_profile(warden, token, {"emails": [mine], "contacts": {"work": _email("thief")}})
    assert refused.status == 403, refused.data
    assert _traits(warden, identity_id) == {"emails": [mine], "contacts": {}}


def test_a_new_password_may_not_be_an_address_kept_in_an_array(warden: ThreadedWarden) -> None:
    """Kratos checks a password against every identifier of the identity (4000031), wherever the
    schema keeps it: a password that is the login address itself is the first one guessed."""
    mine = _email("similar")
    _identity(warden, {"emails": [mine]})
    refused = _set_password(warden, _signed_in(warden, mine), mine)
    assert refused.status == 400, refused.data
    [password_node] = [n for n in refused.json()["ui"]["nodes"] if n["attributes"].get("name") == "password"]
    assert [m["id"] for m in password_node["messages"]] == [4000031]


def test_a_new_password_must_differ_from_the_current_one(warden: ThreadedWarden) -> None:
    """Kratos's `isNewPasswordSameAsOld`: 4000039 on the password field, and nothing is changed."""
    mine = _email("same")
    identity_id = _identity(warden, {"emails": [mine]})
    token = _signed_in(warden, mine)
    before = urllib3.request("GET", f"{warden.admin_url}/admin/identities/{identity_id}").json()["updated_at"]
    refused = _set_password(warden, token, PASSWORD)
    assert refused.status == 400, refused.data
    [password_node] = [n for n in refused.json()["ui"]["nodes"] if n["attributes"].get("name") == "password"]
    assert [m["id"] for m in password_node["messages"]] == [4000039]
    assert urllib3.request("GET", f"{warden.admin_url}/admin/identities/{identity_id}").json()["updated_at"] == before
    assert _set_password(warden, token, "Another-Long-Password-5381").status == 200
