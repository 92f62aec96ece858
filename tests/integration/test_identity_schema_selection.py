"""Selectable identity schemas (`identity.schemas[].selfservice_selectable`): registration and login
flows made with `?identity_schema=<id>`, through the API (Kratos's SDK), a browser (cookies, CSRF,
redirects) and the built-in UI, on SQLite and PostgreSQL.

The config has three schemas: `default` (an email), `member` (a member name and a club; selectable)
and `username` (not selectable). A second Warden per database, whose flows live one second, serves
the tests of flows renewed after expiry."""

from __future__ import annotations

import html
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ory_kratos_client as kratos
import pytest
from ory_kratos_client.api.frontend_api import FrontendApi

from tests.conftest import unique
from tests.factories import ThreadedWarden, running_warden, settings_for
from tests.selfservice_helpers import COOKIE_SECRET, PASSWORD, Browser, api_error, as_dict, database, node, query_param

BASE = "http://127.0.0.1:4433"  # the factory's serve.public.base_url
UI = f"{BASE}/ui"
WELCOME = f"{UI}/welcome"
MEMBER_SCHEMA: dict[str, Any] = {
    "$id": "https://warden.test/schemas/member.json",
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Member",
    "type": "object",
    "properties": {
        "traits": {
            "type": "object",
            "properties": {
                "username": {
                    "type": "string",
                    "title": "Member name",
                    "minLength": 3,
                    "ory.sh/kratos": {"credentials": {"password": {"identifier": True}}},
                },
                "club": {"type": "string", "title": "Club"},
            },
            "required": ["username"],
            "additionalProperties": False,
        }
    },
}


def _config(directory: Path, lifespan: str | None = None) -> dict[str, Any]:
    (directory / "member.schema.json").write_text(json.dumps(MEMBER_SCHEMA))
    flows: dict[str, Any] = {
        kind: {"ui_url": f"{UI}/{kind}"} for kind in ("login", "registration", "settings", "verification", "error")
    }
    flows["registration"]["after"] = {"password": {"hooks": [{"hook": "session"}]}}
    for kind in ("login", "registration") if lifespan else ():
        flows[kind]["lifespan"] = lifespan
    return {
        "secrets": {"cookie": [COOKIE_SECRET]},
        "identity": {
            "default_schema_id": "default",
            "schemas": [
                {"id": "default", "url": f"file://{directory}/default.schema.json"},
                {"id": "member", "url": f"file://{directory}/member.schema.json", "selfservice_selectable": True},
                {"id": "username", "url": f"file://{directory}/username.schema.json"},
            ],
        },
        "selfservice": {"default_browser_return_url": WELCOME, "allowed_return_urls": [BASE], "flows": flows},
    }


def _warden(request: pytest.FixtureRequest, directory: Path, lifespan: str | None = None) -> Iterator[ThreadedWarden]:
    with database(request.param, directory) as dsn:
        settings = settings_for(directory, dsn, _config(directory, lifespan))
        with running_warden(settings) as running:
            yield running


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def warden(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    yield from _warden(request, tmp_path_factory.mktemp("schema-selection"))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def short_lived(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    """Login and registration flows that expire after a second."""
    yield from _warden(request, tmp_path_factory.mktemp("schema-selection-short"), lifespan="1s")


@pytest.fixture(scope="module")
def frontend(warden: ThreadedWarden) -> Iterator[FrontendApi]:
    with kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as client:
        yield FrontendApi(client)


def _sign_up(traits: dict[str, Any]) -> kratos.UpdateRegistrationFlowBody:
    return kratos.UpdateRegistrationFlowBody(
        kratos.UpdateRegistrationFlowWithPasswordMethod(method="password", password=PASSWORD, traits=traits)
    )


def _sign_up_body(username: str) -> kratos.UpdateRegistrationFlowBody:
    return _sign_up({"username": username, "club": "Chess"})


def _trait_names(flow: dict[str, Any]) -> set[str]:
    return {n["attributes"]["name"] for n in flow["ui"]["nodes"] if n["attributes"]["name"].startswith("traits.")}


def _label(flow: dict[str, Any], name: str) -> str:
    return str(node(flow, name)["meta"]["label"]["text"])


# --- registration through the API ---------------------------------------------------------------


def test_a_registration_for_a_selectable_schema_shows_its_traits_and_creates_its_identity(
    frontend: FrontendApi,
) -> None:
    flow = as_dict(frontend.create_native_registration_flow(identity_schema="member"))
    assert flow["identity_schema"] == "member"
    assert _trait_names(flow) == {"traits.username", "traits.club"}
    assert _label(flow, "traits.username") == "Member name"
    assert as_dict(frontend.get_registration_flow(flow["id"]))["identity_schema"] == "member"

    username = unique("member")
    done = frontend.update_registration_flow(flow["id"], _sign_up_body(username))
    assert done.identity.schema_id == "member"
    assert done.identity.traits == {"username": username, "club": "Chess"}
    assert done.session is not None and done.session.identity.schema_id == "member"


def test_the_selected_schema_validates_the_traits(frontend: FrontendApi) -> None:
    """The member schema wants a member name of three characters; an email is no trait of it."""
    flow = frontend.create_native_registration_flow(identity_schema="member")
    status, refused = api_error(lambda: frontend.update_registration_flow(flow.id, _sign_up({"username": "ab"})))
    assert status == 400 and refused["identity_schema"] == "member"
    assert [m["id"] for m in node(refused, "traits.username")["messages"]] == [4000003]


def test_without_the_parameter_the_flow_is_the_default_schemas_and_says_none(
    warden: ThreadedWarden, frontend: FrontendApi
) -> None:
    app = Browser(warden.public_url, json=True)
    flow = app.get("/self-service/registration/api").json()
    assert "identity_schema" not in flow
    assert _trait_names(flow) == {"traits.email", "traits.name.first", "traits.name.last"}
    email = f"{unique('plain')}@example.com"
    assert frontend.update_registration_flow(flow["id"], _sign_up({"email": email})).identity.schema_id == "default"


def test_the_default_schema_may_be_asked_for_by_name(frontend: FrontendApi) -> None:
    flow = as_dict(frontend.create_native_registration_flow(identity_schema="default"))
    assert flow["identity_schema"] == "default" and "traits.email" in _trait_names(flow)


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ("username", 'Requested identity schema "username" is not enabled for self-service flows.'),
        ("nope", 'Requested identity schema "nope" does not exist.'),
    ],
)
@pytest.mark.parametrize("kind", ["registration", "login"])
def test_a_schema_that_is_not_selectable_is_refused(
    warden: ThreadedWarden, kind: str, schema: str, reason: str
) -> None:
    """Kratos's `SelfServiceFlowIdentitySchema`: a 400 whose reason names the schema; no flow is made."""
    answer = Browser(warden.public_url, json=True).get(f"/self-service/{kind}/api?identity_schema={schema}")
    assert answer.status == 400, answer
    error = answer.json()["error"]
    assert error["reason"] == reason and error["status"] == "Bad Request"
    assert error["message"] == "The request was malformed or contained invalid parameters"


# --- registration in a browser ------------------------------------------------------------------


def test_a_browser_registers_with_the_selected_schema(warden: ThreadedWarden) -> None:
    browser = Browser(warden.public_url)
    started = browser.get("/self-service/registration/browser?identity_schema=member")
    assert started.status == 303 and started.location.startswith(f"{UI}/registration?flow=")
    flow_id = query_param(started.location, "flow")
    flow = browser.get(f"/self-service/registration/flows?id={flow_id}", as_json=True).json()
    assert flow["identity_schema"] == "member" and "traits.username" in _trait_names(flow)

    username = unique("browser")
    form = {
        "csrf_token": node(flow, "csrf_token")["attributes"]["value"],
        "method": "password",
        "password": PASSWORD,
        "traits.username": username,
        "traits.club": "Go",
    }
    done = browser.post(flow["ui"]["action"], form)
    assert done.status == 303 and done.location == WELCOME, done
    whoami = browser.get("/sessions/whoami", as_json=True).json()
    assert whoami["identity"]["schema_id"] == "member"
    assert whoami["identity"]["traits"] == {"username": username, "club": "Go"}


def test_a_browser_asking_for_a_schema_it_may_not_use_is_sent_to_the_error_page(warden: ThreadedWarden) -> None:
    browser = Browser(warden.public_url)
    answer = browser.get("/self-service/registration/browser?identity_schema=username")
    assert answer.status == 303 and answer.location.startswith(f"{UI}/error?id="), answer
    error = browser.get(f"/self-service/errors?id={query_param(answer.location, 'id')}", as_json=True).json()
    assert error["error"]["reason"] == 'Requested identity schema "username" is not enabled for self-service flows.'


# --- login --------------------------------------------------------------------------------------


def test_a_login_for_a_schema_labels_the_identifier_as_that_schema_does(
    warden: ThreadedWarden, frontend: FrontendApi
) -> None:
    member = as_dict(frontend.create_native_login_flow(identity_schema="member"))
    assert member["identity_schema"] == "member"
    assert _label(member, "identifier") == "Member name"
    default = Browser(warden.public_url, json=True).get("/self-service/login/api").json()
    assert "identity_schema" not in default
    assert _label(default, "identifier") == "E-Mail"


def test_a_member_signs_in_with_a_login_flow_made_for_the_member_schema(frontend: FrontendApi) -> None:
    username = unique("signin")
    frontend.update_registration_flow(
        frontend.create_native_registration_flow(identity_schema="member").id, _sign_up_body(username)
    )
    flow = frontend.create_native_login_flow(identity_schema="member")
    body = kratos.UpdateLoginFlowWithPasswordMethod(method="password", identifier=username, password=PASSWORD)
    done = frontend.update_login_flow(flow.id, kratos.UpdateLoginFlowBody(body))
    assert done.session.identity.schema_id == "member"


def test_a_browser_login_flow_keeps_the_schema(warden: ThreadedWarden) -> None:
    browser = Browser(warden.public_url)
    started = browser.get("/self-service/login/browser?identity_schema=member")
    assert started.status == 303, started
    flow = browser.get(f"/self-service/login/flows?id={query_param(started.location, 'flow')}", as_json=True).json()
    assert flow["identity_schema"] == "member" and _label(flow, "identifier") == "Member name"


# --- flows renewed after expiry ------------------------------------------------------------------


def test_an_expired_registration_is_renewed_for_the_same_schema(short_lived: ThreadedWarden) -> None:
    with kratos.ApiClient(kratos.Configuration(host=short_lived.public_url)) as client:
        frontend = FrontendApi(client)
        flow = frontend.create_native_registration_flow(identity_schema="member")
        time.sleep(1.1)
        status, body = api_error(lambda: frontend.update_registration_flow(flow.id, _sign_up_body(unique("late"))))
        assert status == 410 and body["error"]["id"] == "self_service_flow_expired", body
        fresh = as_dict(frontend.get_registration_flow(body["use_flow_id"]))
    assert fresh["identity_schema"] == "member"
    assert _trait_names(fresh) == {"traits.username", "traits.club"}


def test_an_expired_browser_login_is_renewed_for_the_same_schema(short_lived: ThreadedWarden) -> None:
    browser = Browser(short_lived.public_url)
    started = browser.get("/self-service/login/browser?identity_schema=member")
    flow = browser.get(f"/self-service/login/flows?id={query_param(started.location, 'flow')}", as_json=True).json()
    time.sleep(1.1)
    form = {"csrf_token": node(flow, "csrf_token")["attributes"]["value"], "method": "password"}
    renewed = browser.post(flow["ui"]["action"], {**form, "identifier": "someone", "password": PASSWORD})
    assert renewed.status == 303 and renewed.location.startswith(f"{UI}/login?flow="), renewed
    fresh_id = query_param(renewed.location, "flow")
    fresh = browser.get(f"/self-service/login/flows?id={fresh_id}", as_json=True).json()
    assert fresh_id != flow["id"] and fresh["identity_schema"] == "member"
    assert _label(fresh, "identifier") == "Member name"


# --- the built-in UI -----------------------------------------------------------------------------


def test_the_built_in_ui_passes_the_schema_on_and_keeps_it_between_sign_in_and_sign_up(
    warden: ThreadedWarden,
) -> None:
    browser = Browser(warden.public_url)
    opened = browser.get(f"{UI}/registration?identity_schema=member")
    assert (
        opened.status == 303 and opened.location == f"{BASE}/self-service/registration/browser?identity_schema=member"
    )
    started = browser.get(opened.location)
    page = html.unescape(browser.get(started.location).data.decode())
    assert 'name="traits.username"' in page and 'name="traits.email"' not in page
    assert f'href="{UI}/login?identity_schema=member"' in page

    sign_in = browser.get(f"{UI}/login?identity_schema=member")
    assert sign_in.location == f"{BASE}/self-service/login/browser?identity_schema=member"
    login_page = html.unescape(browser.get(browser.get(sign_in.location).location).data.decode())
    assert "Member name" in login_page
    assert f'href="{UI}/registration?identity_schema=member"' in login_page


def test_the_built_in_ui_starts_a_new_flow_for_the_expired_ones_schema(short_lived: ThreadedWarden) -> None:
    browser = Browser(short_lived.public_url)
    started = browser.get("/self-service/registration/browser?identity_schema=member")
    time.sleep(1.1)
    page = browser.get(started.location)
    assert page.status == 303 and page.location == f"{BASE}/self-service/registration/browser?identity_schema=member"
