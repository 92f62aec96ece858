"""An identity schema whose traits are written with `#/definitions` (`$ref`s inside the schema), over
real HTTP on SQLite and PostgreSQL: the registration form shows each trait with its type, title and
autocomplete; signing up creates the identifiers and addresses the `ory.sh/kratos` extension behind
the reference names; the identifier logs in; settings shows the same fields; `GET /schemas/{id}`
serves the schema as written.

Kratos follows such references everywhere (its form builder, `jsonschemax.ListPaths`, walks `$ref`
like any sub-schema); Warden writes them out once, when the schema is loaded."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import (
    PASSWORD,
    RETURN_URL,
    UI,
    Browser,
    database,
    node,
    query_param,
    selfservice_settings,
)

EXTENSION = {
    "credentials": {"password": {"identifier": True}, "code": {"identifier": True, "via": "email"}},
    "verification": {"via": "email"},
    "recovery": {"via": "email"},
}
SCHEMA: dict[str, Any] = {
    "$id": "https://warden.test/schemas/definitions.json",
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "definitions": {
        "email": {"type": "string", "format": "email", "title": "E-Mail", "ory.sh/kratos": EXTENSION},
        "name": {
            "type": "object",
            "properties": {
                "first": {"$ref": "#/definitions/given"},
                "last": {"$ref": "https://warden.test/schemas/definitions.json#/definitions/surname"},
            },
        },
        "given": {"type": "string", "title": "First name"},
        "surname": {"type": "string", "title": "Last name"},
    },
    "properties": {
        "traits": {
            "type": "object",
            "properties": {"email": {"$ref": "#/definitions/email"}, "name": {"$ref": "#/definitions/name"}},
            "required": ["email"],
            "additionalProperties": False,
        }
    },
}
TRAIT_NODES = ["traits.email", "traits.name.first", "traits.name.last"]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def warden(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("schema-definitions")
    (directory / "definitions.schema.json").write_text(json.dumps(SCHEMA))
    identity = {
        "default_schema_id": "default",
        "schemas": [{"id": "default", "url": f"file://{directory}/definitions.schema.json"}],
    }
    with (
        database(request.param, directory) as dsn,
        running_warden(selfservice_settings(Path(directory), dsn, identity=identity)) as running,
    ):
        yield running


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _get(warden: ThreadedWarden, path: str, **headers: str) -> Any:
    answer = urllib3.request("GET", f"{warden.public_url}{path}", headers=headers)
    assert answer.status == 200, answer.data
    return answer.json()


def _post(warden: ThreadedWarden, path: str, body: dict[str, Any], **headers: str) -> Any:
    answer = urllib3.request("POST", f"{warden.public_url}{path}", json=body, headers=headers)
    assert answer.status == 200, answer.data
    return answer.json()


def _register(warden: ThreadedWarden, traits: dict[str, Any]) -> dict[str, Any]:
    flow = _get(warden, "/self-service/registration/api")
    body = {"method": "password", "password": PASSWORD, "traits": traits}
    return dict(_post(warden, f"/self-service/registration?flow={flow['id']}", body))


def _trait_nodes(flow: dict[str, Any]) -> list[str]:
    names = [n["attributes"].get("name", "") for n in flow["ui"]["nodes"]]
    return [name for name in names if name.startswith("traits.")]


def test_the_registration_form_shows_the_traits_behind_the_references(warden: ThreadedWarden) -> None:
    flow = _get(warden, "/self-service/registration/api")
    assert _trait_nodes(flow) == TRAIT_NODES
    email = node(flow, "traits.email")
    assert email["attributes"] | {"node_type": None} == {
        "name": "traits.email",
        "type": "email",
        "required": True,
        "disabled": False,
        "autocomplete": "email",
        "node_type": None,
    }
    assert email["meta"]["label"]["text"] == "E-Mail" and email["group"] == "default"
    for name, title in (("traits.name.first", "First name"), ("traits.name.last", "Last name")):
        attributes = node(flow, name)["attributes"]
        assert (attributes["type"], attributes.get("autocomplete")) == ("text", None)
        assert node(flow, name)["meta"]["label"]["text"] == title


def test_signing_up_creates_the_identifier_and_addresses_the_definition_names(warden: ThreadedWarden) -> None:
    typed = _email("Ada").replace("ada", "Ada.Lovelace")
    done = _register(warden, {"email": typed, "name": {"first": "Ada", "last": "Lovelace"}})
    identity = done["identity"]
    stored = urllib3.request("GET", f"{warden.admin_url}/admin/identities/{identity['id']}").json()
    expected = typed.lower()
    assert stored["traits"] == {"email": typed, "name": {"first": "Ada", "last": "Lovelace"}}
    assert stored["credentials"]["password"]["identifiers"] == [expected]
    assert [(a["via"], a["value"], a["verified"]) for a in stored["verifiable_addresses"]] == [
        ("email", expected, False)
    ]
    assert [(a["via"], a["value"]) for a in stored["recovery_addresses"]] == [("email", expected)]


def test_the_identifier_logs_in_under_its_title(warden: ThreadedWarden) -> None:
    email = _email("login")
    _register(warden, {"email": email})
    flow = _get(warden, "/self-service/login/api")
    assert node(flow, "identifier")["meta"]["label"]["text"] == "E-Mail"
    body = {"method": "password", "identifier": email.upper(), "password": PASSWORD}
    done = _post(warden, f"/self-service/login?flow={flow['id']}", body)
    assert done["session"]["identity"]["traits"]["email"] == email


def test_settings_shows_the_fields_with_the_identity_s_values(warden: ThreadedWarden) -> None:
    email = _email("settings")
    token = _register(warden, {"email": email, "name": {"first": "Grace"}})["session_token"]
    flow = _get(warden, "/self-service/settings/api", **{"X-Session-Token": token})
    assert _trait_nodes(flow) == TRAIT_NODES
    values = {name: node(flow, name)["attributes"].get("value") for name in TRAIT_NODES}
    assert values == {"traits.email": email, "traits.name.first": "Grace", "traits.name.last": None}
    assert node(flow, "traits.email")["attributes"]["type"] == "email"
    assert node(flow, "traits.name.first")["meta"]["label"]["text"] == "First name"

    body = {"method": "profile", "traits": {"email": email, "name": {"first": "Grace", "last": "Hopper"}}}
    changed = _post(warden, f"/self-service/settings?flow={flow['id']}", body, **{"X-Session-Token": token})
    assert changed["identity"]["traits"]["name"] == {"first": "Grace", "last": "Hopper"}


def test_a_browser_form_post_fills_the_nested_traits(warden: ThreadedWarden) -> None:
    """A form posts `traits.name.first` as a string field; the nested object comes from the schema."""
    browser = Browser(warden.public_url)
    started = browser.get("/self-service/registration/browser")
    assert started.status == 303 and started.location.startswith(f"{UI}/registration?flow=")
    flow = browser.get(f"/self-service/registration/flows?id={query_param(started.location, 'flow')}", as_json=True)
    email = _email("browser")
    form = {
        "csrf_token": node(flow.json(), "csrf_token")["attributes"]["value"],
        "method": "password",
        "password": PASSWORD,
        "traits.email": email,
        "traits.name.first": "Hedy",
    }
    done = browser.post(flow.json()["ui"]["action"], form)
    assert done.status == 303 and done.location == RETURN_URL, done
    whoami = browser.get("/sessions/whoami", as_json=True).json()
    assert whoami["identity"]["traits"] == {"email": email, "name": {"first": "Hedy"}}


def test_the_schema_is_served_as_written(warden: ThreadedWarden) -> None:
    assert _get(warden, "/schemas/default") == SCHEMA
