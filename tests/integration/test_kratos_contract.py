"""Contract gaps that Kratos's clients rely on (issue 16 items 14 and 15), on SQLite and PostgreSQL:
query checks on the identity list, the stub error's id, and the endpoints Kratos has beside its
main API (change-password, HEAD whoami, the Prometheus alias, the cross-port redirects)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import ory_kratos_client as kratos
import pytest
import urllib3
from ory_kratos_client.api.frontend_api import FrontendApi
from ory_kratos_client.api.identity_api import IdentityApi

from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import PASSWORD, api_error, create_identity, database, selfservice_settings

PUBLIC_BASE = "http://127.0.0.1:4433"  # the factory's serve.public.base_url


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def warden(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("contract")
    with database(request.param, directory) as dsn, running_warden(selfservice_settings(directory, dsn)) as w:
        yield w


@pytest.fixture
def identities(warden: ThreadedWarden) -> Iterator[IdentityApi]:
    with kratos.ApiClient(kratos.Configuration(host=warden.admin_url)) as client:
        yield IdentityApi(client)


@pytest.fixture
def frontend(warden: ThreadedWarden) -> Iterator[FrontendApi]:
    with kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as client:
        yield FrontendApi(client)


def _raw(method: str, url: str, **kw: Any) -> urllib3.BaseHTTPResponse:
    return urllib3.request(method, url, redirect=False, retries=False, **kw)


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _session_token(warden: ThreadedWarden, frontend: FrontendApi, email: str) -> str:
    create_identity(warden.admin_url, email)
    flow = frontend.create_native_login_flow()
    body = kratos.UpdateLoginFlowWithPasswordMethod(method="password", identifier=email, password=PASSWORD)
    return str(frontend.update_login_flow(flow.id, kratos.UpdateLoginFlowBody(body)).session_token)


# --- 14. input checks --------------------------------------------------------------------------


def test_an_invalid_patch_id_is_a_400_and_not_echoed(warden: ThreadedWarden) -> None:
    item = {"patch_id": "not-a-uuid", "create": {"schema_id": "default", "traits": {"email": _email("patch")}}}
    response = _raw("PATCH", f"{warden.admin_url}/admin/identities", json={"identities": [item]})
    assert response.status == 400, response.data
    assert json.loads(response.data)["error"]["code"] == 400


@pytest.mark.parametrize(
    "query",
    [
        {"ids": ["not-a-uuid"]},
        {"organization_id": "not-a-uuid"},
        {"include_credential": ["passwords"]},
        {"credentials_identifier": "a@b.co", "preview_credentials_identifier_similar": "a@"},
    ],
)
def test_identity_list_answers_400_for_invalid_filters(identities: IdentityApi, query: dict[str, str]) -> None:
    status, body = api_error(lambda: identities.list_identities_with_http_info(**query))
    assert status == 400 and body["error"]["code"] == 400


def test_identity_list_filters_by_organization_and_similar_identifier(
    warden: ThreadedWarden, identities: IdentityApi
) -> None:
    marker = uuid.uuid4().hex[:10]
    wanted = create_identity(warden.admin_url, f"Similar-{marker}@example.com")
    create_identity(warden.admin_url, _email("other"))
    found = identities.list_identities(preview_credentials_identifier_similar=f"similar-{marker.upper()}")
    assert [i.id for i in found] == [wanted]
    assert identities.list_identities(preview_credentials_identifier_similar="%") == []  # a literal, not a wildcard
    assert identities.list_identities(organization_id=str(uuid.uuid4())) == []
    assert identities.list_identities(include_credential=["password"])  # a valid type is still fine


def test_the_stub_error_has_a_uuid_id(frontend: FrontendApi) -> None:
    first, second = frontend.get_flow_error("stub:500"), frontend.get_flow_error("stub:500")
    assert uuid.UUID(first.id) and first.id != second.id
    assert first.error["code"] == 500 and first.error["reason"] == "This is a stub error."


# --- 15. endpoints beside the main API ----------------------------------------------------------


def test_well_known_change_password_redirects_to_the_settings_flow(warden: ThreadedWarden) -> None:
    response = _raw("GET", f"{warden.public_url}/.well-known/change-password")
    assert response.status == 303
    assert response.headers["Location"] == f"{PUBLIC_BASE}/self-service/settings/browser"


def test_head_whoami_answers_like_get_without_a_body(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    token = _session_token(warden, frontend, _email("head"))
    signed_in = _raw("HEAD", f"{warden.public_url}/sessions/whoami", headers={"X-Session-Token": token})
    assert signed_in.status == 200 and signed_in.data == b""
    assert (
        signed_in.headers["X-Kratos-Authenticated-Identity-Id"]
        == frontend.to_session(x_session_token=token).identity.id
    )
    assert _raw("HEAD", f"{warden.public_url}/sessions/whoami").status == 401


def test_the_bulk_session_api_is_404_as_in_kratos_oss(warden: ThreadedWarden) -> None:
    response = _raw("POST", f"{warden.admin_url}/admin/sessions", json={"action": "delete", "identities": ["*"]})
    assert response.status == 404 and json.loads(response.data)["error"]["code"] == 404


def test_metrics_prometheus_is_the_metrics_page(warden: ThreadedWarden) -> None:
    response = _raw("GET", f"{warden.admin_url}/metrics/prometheus")
    assert response.status == 200 and b"warden_http_requests_total" in response.data
    assert response.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    ("method", "path", "target"),
    [
        ("GET", "/admin/identities?page_size=2", "/admin/identities?page_size=2"),
        ("POST", "/admin/identities", "/admin/identities"),
        ("DELETE", "/admin/sessions/abc", "/admin/sessions/abc"),
        ("POST", "/admin/recovery/code", "/admin/recovery/code"),
    ],
)
def test_admin_paths_on_the_public_port_redirect_to_the_admin_port(
    warden: ThreadedWarden, method: str, path: str, target: str
) -> None:
    response = _raw(method, f"{warden.public_url}{path}")
    # serve.admin.base_url defaults to the admin port on 127.0.0.1, which is where the test's Warden listens
    assert response.status == 307 and response.headers["Location"] == warden.admin_url + target


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/schemas", f"{PUBLIC_BASE}/schemas"),
        ("/schemas/ZGVmYXVsdA", f"{PUBLIC_BASE}/schemas/ZGVmYXVsdA"),
        ("/self-service/login/browser?refresh=true", f"{PUBLIC_BASE}/self-service/login/browser?refresh=true"),
    ],
)
def test_public_paths_on_the_admin_port_redirect_to_the_public_port(
    warden: ThreadedWarden, path: str, target: str
) -> None:
    response = _raw("GET", f"{warden.admin_url}{path}")
    assert response.status == 307 and response.headers["Location"] == target
