"""Kratos's quickstart configs run as they are (`dsn: memory`, free ports): where the password
method is on and the schema has a password identifier, a native registration with valid traits
signs in and each identifier logs in with the password; where it is off, it is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ory_kratos_client as kratos
import pytest
from ory_kratos_client.api.frontend_api import FrontendApi

from shared.config import Settings, load_settings
from tests.conftest import free_port
from tests.factories import running_warden
from tests.selfservice_helpers import PASSWORD, api_error, message_ids, node_names

QUICKSTART = Path(__file__).parents[1] / "fixtures" / "quickstart"
QUICKSTARTS = sorted(p.name for p in QUICKSTART.iterdir() if (p / "kratos.yml").exists())
# `test_each_quickstart_is_covered` checks these against the configs.
PASSWORD_ON = ("all-strategies", "email-password", "passkey", "phone-password")
PASSWORD_OFF = ("webauthn",)
PHONE = "+4915112345678"


def _settings(name: str) -> Settings:
    environ = {"DSN": "memory", "SERVE_PUBLIC_PORT": str(free_port()), "SERVE_ADMIN_PORT": str(free_port())}
    return load_settings([QUICKSTART / name / "kratos.yml"], environ, dev=True)


@contextmanager
def _running(name: str) -> Iterator[FrontendApi]:
    with (
        running_warden(_settings(name)) as warden,
        kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as client,
    ):
        yield FrontendApi(client)


def _traits_schema(name: str) -> dict[str, Any]:
    document = json.loads((QUICKSTART / name / "identity.schema.json").read_text())
    return document["properties"]["traits"]


def _valid_traits(schema: dict[str, Any]) -> dict[str, Any]:
    """A value for every property the schema describes, of the kind its format asks for."""
    traits: dict[str, Any] = {}
    for key, prop in (schema.get("properties") or {}).items():
        if prop.get("type") == "object":
            traits[key] = _valid_traits(prop)
        elif prop.get("format") == "email":
            traits[key] = "Ada.Lovelace@Example.com"
        elif prop.get("format") == "tel":
            traits[key] = PHONE
        else:
            traits[key] = "Ada"
    return traits


def _password_identifiers(schema: dict[str, Any], traits: dict[str, Any]) -> list[str]:
    found = []
    for key, prop in (schema.get("properties") or {}).items():
        if prop.get("type") == "object":
            found += _password_identifiers(prop, traits.get(key) or {})
        elif ((prop.get("ory.sh/kratos") or {}).get("credentials") or {}).get("password", {}).get("identifier"):
            found.append(traits[key])
    return found


def _password_enabled(settings: Settings) -> bool:
    return bool(settings.get("selfservice.methods.password.enabled", True))  # Kratos's default: on


def test_each_quickstart_is_covered() -> None:
    assert sorted(PASSWORD_ON + PASSWORD_OFF) == QUICKSTARTS
    for name in QUICKSTARTS:
        schema = _traits_schema(name)
        has_identifier = bool(_password_identifiers(schema, _valid_traits(schema)))
        assert (_password_enabled(_settings(name)) and has_identifier) == (name in PASSWORD_ON), name


@pytest.mark.parametrize("name", PASSWORD_ON)
def test_password_registration_and_login(name: str) -> None:
    schema = _traits_schema(name)
    traits = _valid_traits(schema)
    with _running(name) as frontend:
        _register_and_log_in(name, frontend, traits, _password_identifiers(schema, traits))


def _register_and_log_in(name: str, frontend: FrontendApi, traits: dict[str, Any], identifiers: list[str]) -> None:
    flow = frontend.create_native_registration_flow()
    names = node_names(flow)
    assert {"password", "method"} <= set(names) and all(
        f"traits.{k}" in names for k in traits if not isinstance(traits[k], dict)
    )
    done = frontend.update_registration_flow(
        flow.id,
        kratos.UpdateRegistrationFlowBody(
            kratos.UpdateRegistrationFlowWithPasswordMethod(method="password", password=PASSWORD, traits=traits)
        ),
    )
    assert done.identity.traits == traits
    assert done.session_token, f"{name}: the quickstart runs the session hook after password registration"

    for identifier in identifiers:
        login = frontend.create_native_login_flow()
        signed_in = frontend.update_login_flow(
            login.id,
            kratos.UpdateLoginFlowBody(
                kratos.UpdateLoginFlowWithPasswordMethod(method="password", identifier=identifier, password=PASSWORD)
            ),
        )
        assert signed_in.session.identity.id == done.identity.id, identifier
        assert frontend.to_session(x_session_token=signed_in.session_token).identity.id == done.identity.id


@pytest.mark.parametrize("name", PASSWORD_OFF)
def test_password_is_refused_where_it_is_off(name: str) -> None:
    with _running(name) as frontend:
        _refuse_password(frontend, _valid_traits(_traits_schema(name)))


def _refuse_password(frontend: FrontendApi, traits: dict[str, Any]) -> None:
    registration = frontend.create_native_registration_flow()
    assert "password" not in node_names(registration)
    status, body = api_error(
        lambda: frontend.update_registration_flow(
            registration.id,
            kratos.UpdateRegistrationFlowBody(
                kratos.UpdateRegistrationFlowWithPasswordMethod(method="password", password=PASSWORD, traits=traits)
            ),
        )
    )
    assert status == 400 and message_ids(body) == [4010003]

    login = frontend.create_native_login_flow()
    assert "password" not in node_names(login)
    status, body = api_error(
        lambda: frontend.update_login_flow(
            login.id,
            kratos.UpdateLoginFlowBody(
                kratos.UpdateLoginFlowWithPasswordMethod(
                    method="password", identifier=traits["email"], password=PASSWORD
                )
            ),
        )
    )
    assert status == 400 and message_ids(body) == [4010002]
