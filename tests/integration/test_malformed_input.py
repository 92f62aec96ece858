"""Malformed requests that fuzzing (Schemathesis against Kratos's api.json) turned into 500s: each is
a 400 (or 404) in Kratos's error format now, on SQLite and PostgreSQL, and stores nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import PASSWORD, create_identity, database, selfservice_settings

MULTIPART_WITHOUT_BOUNDARY = {"Content-Type": "multipart/form-data", "Accept": "application/json"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def warden(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("malformed")
    flows = {"verification": {"enabled": True}, "recovery": {"enabled": True}}
    with (
        database(request.param, directory) as dsn,
        running_warden(selfservice_settings(directory, dsn, flows=flows, methods={"code": {"enabled": True}})) as w,
    ):
        yield w


def _call(method: str, url: str, **kw: Any) -> tuple[int, Any]:
    response = urllib3.request(method, url, redirect=False, retries=False, **kw)
    return response.status, json.loads(response.data) if response.data else None


def _assert_kratos_error(status: int, body: Any, expected: int) -> None:
    assert status == expected, body
    assert body["error"]["code"] == expected and body["error"]["status"], body


def _identity_count(warden: ThreadedWarden) -> int:
    return len(_call("GET", f"{warden.admin_url}/admin/identities?page_size=1000")[1])


@pytest.mark.parametrize("credential", ["x", 1, [], True])
def test_a_credential_that_is_not_an_object_is_a_400_on_create_update_and_batch(
    warden: ThreadedWarden, credential: Any
) -> None:
    admin = warden.admin_url
    identity_id = create_identity(admin, f"cred-{uuid.uuid4().hex[:12]}@example.com")
    before = _identity_count(warden)
    body = {"schema_id": "default", "traits": {"email": "new@example.com"}, "credentials": {"password": credential}}
    _assert_kratos_error(*_call("POST", f"{admin}/admin/identities", json=body), 400)
    _assert_kratos_error(
        *_call("PUT", f"{admin}/admin/identities/{identity_id}", json={**body, "state": "active"}), 400
    )
    _assert_kratos_error(*_call("PATCH", f"{admin}/admin/identities", json={"identities": [{"create": body}]}), 400)
    assert _identity_count(warden) == before


@pytest.mark.parametrize("item", [1, "x", None, [], {"create": [1]}, {"create": "x"}])
def test_a_batch_item_that_is_not_an_object_is_a_400(warden: ThreadedWarden, item: Any) -> None:
    before = _identity_count(warden)
    _assert_kratos_error(*_call("PATCH", f"{warden.admin_url}/admin/identities", json={"identities": [item]}), 400)
    assert _identity_count(warden) == before


def test_a_batch_item_with_a_null_credential_config_is_answered_as_a_400_for_that_item(
    warden: ThreadedWarden,
) -> None:
    create = {"schema_id": "default", "traits": {"email": "null-config@example.com"}}
    status, body = _call(
        "PATCH",
        f"{warden.admin_url}/admin/identities",
        json={"identities": [{"create": {**create, "credentials": {"password": {"config": None}}}}]},
    )
    assert status == 200, body
    [item] = body["identities"]
    assert item["action"] == "error" and item["error"]["code"] == 400


def _api_flow(warden: ThreadedWarden, kind: str, token: str | None = None) -> str:
    headers = {"X-Session-Token": token} if token else {}
    status, flow = _call("GET", f"{warden.public_url}/self-service/{kind}/api", headers=headers)
    assert status == 200, flow
    return str(flow["id"])


def _session_token(warden: ThreadedWarden, email: str) -> str:
    create_identity(warden.admin_url, email)
    flow_id = _api_flow(warden, "login")
    body = {"method": "password", "identifier": email, "password": PASSWORD}
    status, answer = _call("POST", f"{warden.public_url}/self-service/login?flow={flow_id}", json=body)
    assert status == 200, answer
    return str(answer["session_token"])


def test_a_multipart_body_without_a_boundary_is_a_400_everywhere_a_form_is_read(warden: ThreadedWarden) -> None:
    token = _session_token(warden, "multipart@example.com")
    public, admin = warden.public_url, warden.admin_url
    submits = [f"{public}/self-service/{kind}?flow={_api_flow(warden, kind)}" for kind in ("login", "registration")]
    submits += [f"{public}/self-service/{kind}?flow={_api_flow(warden, kind)}" for kind in ("recovery", "verification")]
    settings = f"{public}/self-service/settings?flow={_api_flow(warden, 'settings', token)}"
    for url in submits:
        _assert_kratos_error(*_call("POST", url, body=b"--x--", headers=MULTIPART_WITHOUT_BOUNDARY), 400)
    with_token = {**MULTIPART_WITHOUT_BOUNDARY, "X-Session-Token": token}
    _assert_kratos_error(*_call("POST", settings, body=b"--x--", headers=with_token), 400)
    _assert_kratos_error(
        *_call("DELETE", f"{public}/self-service/logout/api", body=b"--x--", headers=MULTIPART_WITHOUT_BOUNDARY), 400
    )
    for kind in ("code", "link"):
        _assert_kratos_error(
            *_call("POST", f"{admin}/admin/recovery/{kind}", body=b"--x--", headers=MULTIPART_WITHOUT_BOUNDARY), 400
        )
    assert _call("GET", f"{public}/sessions/whoami", headers={"X-Session-Token": token})[0] == 200


@pytest.mark.parametrize("schema_id", ["%C3%A9%C3%A9", "%E2%9C%93", "%F0%9F%94%91x"])
def test_a_non_ascii_schema_id_is_a_404(warden: ThreadedWarden, schema_id: str) -> None:
    _assert_kratos_error(*_call("GET", f"{warden.public_url}/schemas/{schema_id}"), 404)


@pytest.mark.parametrize("query", ["flow=%00", "a%00b=1", "flow=abc&return_to=x%00y"])
def test_a_nul_character_in_the_query_is_a_400(warden: ThreadedWarden, query: str) -> None:
    status, body = _call("GET", f"{warden.public_url}/self-service/login/flows?{query}")
    _assert_kratos_error(status, body, 400)
    assert body["error"]["reason"] == "The URL contains a NUL character.", body


def test_an_escaped_percent_before_00_is_no_nul(warden: ThreadedWarden) -> None:
    status, body = _call("GET", f"{warden.public_url}/self-service/login/flows?id=%2500")
    assert status != 500 and body["error"].get("reason") != "The URL contains a NUL character.", body


@pytest.mark.parametrize("kind", ["login", "registration", "recovery", "verification", "settings"])
@pytest.mark.parametrize("query", ["", "?flow=", "?flow=not-a-uuid"])
def test_a_submission_without_a_well_formed_flow_id_is_a_400(warden: ThreadedWarden, kind: str, query: str) -> None:
    """Kratos's `GetFlowID`: `?flow=` missing or not a UUID is the client's mistake (400, "The flow
    query parameter is missing or malformed."); a browser form is sent to the error UI with it."""
    token = _session_token(warden, f"flow-id-{kind}-{len(query)}@example.com") if kind == "settings" else None
    headers = {"X-Session-Token": token} if token else {}
    url = f"{warden.public_url}/self-service/{kind}{query}"
    status, body = _call("POST", url, json={"method": "password"}, headers=headers)
    _assert_kratos_error(status, body, 400)
    assert body["error"]["reason"] == "The flow query parameter is missing or malformed.", body
    form = urllib3.request(
        "POST",
        url,
        body="method=password",
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},  # settings asks for a session first
        redirect=False,
        retries=False,
    )
    assert form.status == 303 and "/error?id=" in form.headers["Location"], form.headers


@pytest.mark.parametrize("kind", ["login", "registration", "recovery", "verification"])
def test_a_submission_to_an_unknown_flow_id_is_still_a_404(warden: ThreadedWarden, kind: str) -> None:
    url = f"{warden.public_url}/self-service/{kind}?flow={uuid.uuid4()}"
    _assert_kratos_error(*_call("POST", url, json={"method": "password"}), 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/self-service/login", {"POST"}),
        ("PUT", "/self-service/recovery", {"GET", "POST"}),
        ("DELETE", "/self-service/registration/api", {"GET"}),
    ],
)
def test_a_method_a_path_does_not_take_is_a_405_that_says_which_it_does(
    warden: ThreadedWarden, method: str, path: str, allowed: set[str]
) -> None:
    response = urllib3.request(method, f"{warden.public_url}{path}", retries=False)
    assert response.status == 405 and json.loads(response.data)["error"]["code"] == 405, response.data
    assert set(response.headers["Allow"].replace(" ", "").split(",")) - {"HEAD"} == allowed, response.headers
