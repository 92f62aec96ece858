"""`?organization=` on login and registration flow creation, as open-source Kratos takes it
(`flow.ParseOrganizationFromURLQuery`, `login`/`registration` `PrepareOrganizations`): a malformed
UUID is ignored (logged, no error); a UUID is not looked up (Kratos has no organizations to look it
up in) but becomes the flow's `organization_id`, and a first-factor form then offers only the
methods that support organizations, which in open-source Kratos is social sign-in alone. A login
whose session's identity belongs to an organization is scoped to that organization.

One Warden on PostgreSQL (password and social sign-in) serves the module; one with the two-step
styles is started for their test alone."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import PASSWORD, Browser, create_identity, database, selfservice_settings

ORGANIZATION = str(uuid.uuid4())
MAPPER = "base64://" + base64.b64encode(b"{identity: {traits: {}}}").decode()
GITHUB = {"id": "github", "provider": "github", "client_id": "id", "client_secret": "secret", "mapper_url": MAPPER}
OIDC = {"oidc": {"enabled": True, "config": {"providers": [GITHUB]}}}
SECRETS = {"cookie": ["selfservice-tests-cookie-secret-0123456789"], "cipher": ["organization-cipher-32-bytes!!!!"]}


def _settings(directory: Path, dsn: str, **flows: Any) -> Any:
    return selfservice_settings(directory, dsn, methods=OIDC, secrets=SECRETS, flows=flows)


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("organization")
    with database("postgres", directory) as dsn, running_warden(_settings(directory, dsn)) as running:
        yield running


def _groups(flow: dict[str, Any]) -> set[str]:
    return {n["group"] for n in flow["ui"]["nodes"]}


def _new_flow(warden: ThreadedWarden, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    answer = urllib3.request(
        "GET", f"{warden.public_url}{path}", headers={"Accept": "application/json", **(headers or {})}
    )
    assert answer.status == 200, answer.data
    return dict(json.loads(answer.data))


ENDPOINTS = [f"/self-service/{kind}/{how}" for kind in ("login", "registration") for how in ("browser", "api")]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_organization_scopes_the_flow_to_social_sign_in(warden: ThreadedWarden, endpoint: str) -> None:
    flow = _new_flow(warden, f"{endpoint}?organization={ORGANIZATION}")
    assert flow["organization_id"] == ORGANIZATION, flow
    assert _groups(flow) <= {"default", "oidc"} and "oidc" in _groups(flow), flow["ui"]["nodes"]
    assert not any(n["attributes"].get("name") == "password" for n in flow["ui"]["nodes"])


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_malformed_organization_is_ignored(warden: ThreadedWarden, endpoint: str) -> None:
    for value in ("not-a-uuid", ORGANIZATION + "0", ""):
        flow = _new_flow(warden, f"{endpoint}?organization={value}")
        assert flow["organization_id"] is None, (value, flow)
        assert {"password", "oidc"} <= _groups(flow), (value, flow["ui"]["nodes"])


def test_an_organization_does_not_scope_a_second_factor(warden: ThreadedWarden) -> None:
    """Kratos applies it at aal1 alone: social sign-in is no second factor."""
    email = f"organization-{uuid.uuid4().hex[:10]}@example.com"
    create_identity(warden.admin_url, email)
    token = _session_token(warden, email)
    answer = urllib3.request(
        "GET",
        f"{warden.public_url}/self-service/login/api?aal=aal2&organization={ORGANIZATION}",
        headers={"X-Session-Token": token},
    )
    assert answer.status == 200, answer.data
    assert json.loads(answer.data)["organization_id"] is None, answer.data


def test_a_login_refreshing_a_member_session_is_scoped_to_its_organization(warden: ThreadedWarden) -> None:
    email, member_of = f"member-{uuid.uuid4().hex[:10]}@example.com", str(uuid.uuid4())
    created = urllib3.request(
        "POST",
        f"{warden.admin_url}/admin/identities",
        json={
            "schema_id": "default",
            "traits": {"email": email},
            "credentials": {"password": {"config": {"password": PASSWORD}}},
            "organization_id": member_of,
        },
    )
    assert created.status == 201 and json.loads(created.data)["organization_id"] == member_of, created.data
    token = _session_token(warden, email)
    for query in ("", f"&organization={ORGANIZATION}"):  # the identity's organization wins, as in Kratos
        flow = _new_flow(warden, f"/self-service/login/api?refresh=true{query}", {"X-Session-Token": token})
        assert flow["organization_id"] == member_of, flow
        assert "password" not in _groups(flow), flow["ui"]["nodes"]


def test_the_two_step_styles_show_social_sign_in_alone(tmp_path: Path) -> None:
    """Identifier-first login and profile-first registration: the organization's methods only,
    with no identifier or profile step before them (Kratos filters the style's own method out)."""
    styles = {"login": {"style": "identifier_first"}, "registration": {"style": "profile_first"}}
    with database("postgres", tmp_path) as dsn, running_warden(_settings(tmp_path, dsn, **styles)) as warden:
        for kind in ("login", "registration"):
            flow = _new_flow(warden, f"/self-service/{kind}/api?organization={ORGANIZATION}")
            assert flow["organization_id"] == ORGANIZATION and _groups(flow) == {"oidc"}, flow["ui"]["nodes"]
            unscoped = _new_flow(warden, f"/self-service/{kind}/api")
            assert "oidc" not in _groups(unscoped) or len(_groups(unscoped)) > 1, unscoped["ui"]["nodes"]


def _session_token(warden: ThreadedWarden, email: str) -> str:
    flow = _new_flow(warden, "/self-service/login/api")
    answer = Browser(warden.public_url, json=True).request(
        "POST",
        flow["ui"]["action"],
        body={"identifier": email, "password": PASSWORD, "method": "password"},
        cookies=False,
    )
    assert answer.status == 200, answer
    return str(answer.json()["session_token"])
