"""Which UI node group a registration form's traits are in, as Kratos's feature flags choose, and that
the built-in UI signs up with each (it groups nodes as Kratos's reference UI does, services/selfservice/ui/view.py).

- `feature_flags.password_profile_registration_node_group` (`default`, or Kratos's former
  `password`): the traits beside the password on a one-step form. The passwordless code method
  shows the traits itself and moves them back to `default`, as in Kratos.
- `feature_flags.legacy_oidc_registration_node_group`: the traits a social sign-up still needs (the
  provider's claims left the schema unsatisfied) are in `default`, or in Kratos's former `oidc`.

Over HTTP: the flows' JSON as a SPA and a native app (the Kratos SDK) fetch it, and the built-in UI
driven like a browser, on a Warden per setting."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ory_kratos_client as kratos
import pytest
import urllib3
from ory_kratos_client.api.frontend_api import FrontendApi

from tests.factories import ThreadedWarden, running_warden, settings_for
from tests.integration.test_builtin_ui import UI, WELCOME, follow, inputs, open_page, submit, ui_config
from tests.oidc.fake import FakeProvider
from tests.selfservice_helpers import PASSWORD, Browser, as_dict, node, query_param

NO_TRAITS_MAPPER = "base64://" + base64.b64encode(b"{ identity: { traits: {} } }").decode()
# setting -> (feature flags, passwordless code on)
SETUPS: dict[str, tuple[dict[str, Any], bool]] = {
    "kratos-default": ({}, False),
    "legacy-groups": (
        {"password_profile_registration_node_group": "password", "legacy_oidc_registration_node_group": True},
        False,
    ),
    "legacy-groups-with-code": ({"password_profile_registration_node_group": "password"}, True),
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as running:
        yield running


@pytest.fixture(scope="module", params=list(SETUPS))
def setup(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def warden(setup: str, fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    flags, passwordless = SETUPS[setup]
    directory: Path = tmp_path_factory.mktemp(f"node-groups-{setup}")
    config: dict[str, Any] = ui_config()
    config["secrets"]["cipher"] = ["node-groups-tests-cipher-32bytes"]
    provider = {
        "id": "fake",
        "provider": "generic",
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "issuer_url": fake.issuer,
        "mapper_url": NO_TRAITS_MAPPER,
        "scope": ["openid", "email"],
    }
    config["selfservice"]["methods"] = {
        "password": {"enabled": True},
        "oidc": {"enabled": True, "config": {"providers": [provider]}},
        "code": {"enabled": True, "passwordless_enabled": passwordless},
    }
    config["selfservice"]["flows"]["registration"]["after"]["oidc"] = {"hooks": [{"hook": "session"}]}
    config["feature_flags"] = flags
    with running_warden(settings_for(directory, f"sqlite://{directory}/warden.sqlite", config)) as running:
        yield running


@pytest.fixture(scope="module")
def frontend(warden: ThreadedWarden) -> Iterator[FrontendApi]:
    with kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as client:
        yield FrontendApi(client)


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _groups(flow: dict[str, Any]) -> dict[str, str]:
    return {n["attributes"]["name"]: n["group"] for n in flow["ui"]["nodes"] if n["type"] == "input"}


def _password_form_traits_group(setup: str) -> str:
    return "password" if setup == "legacy-groups" else "default"


def test_the_password_form_s_traits_are_in_the_flag_s_group(
    warden: ThreadedWarden, frontend: FrontendApi, setup: str
) -> None:
    native = as_dict(frontend.create_native_registration_flow())
    spa = Browser(warden.public_url, json=True).get("/self-service/registration/browser").json()
    for flow in (native, spa):
        groups = _groups(flow)
        assert groups["traits.email"] == _password_form_traits_group(setup), groups
        assert groups["password"] == "password"
        assert [n["attributes"]["name"] for n in flow["ui"]["nodes"]].count("traits.email") == 1


def test_the_built_in_ui_signs_up_with_the_password_form(warden: ThreadedWarden, setup: str) -> None:
    browser, email = Browser(warden.public_url), _email("ui")
    _, page = open_page(browser, "/ui/registration")
    form = page.form("password")
    assert {"traits.email", "password", "csrf_token"} <= set(inputs(form)), "the traits go with the password"
    if setup == "legacy-groups-with-code":  # the code's form has them too: they are back in `default`
        code = next(f for f in page.forms if any(b["value"] == "code" for b in f["buttons"]))
        assert "traits.email" in inputs(code)
    registered = submit(browser, form, {"traits.email": email, "password": PASSWORD})
    assert registered.status == 303 and registered.location == WELCOME, registered
    assert browser.get("/sessions/whoami", as_json=True).json()["identity"]["traits"]["email"] == email


def _to_provider(browser: Browser) -> dict[str, Any]:
    """A social sign-up the provider's claims leave unfinished: the registration flow it continues in."""
    _, page = open_page(browser, "/ui/registration")
    social = next(f for f in page.forms if any(b["name"] == "provider" for b in f["buttons"]))
    started = submit(browser, social, {}, button="provider")
    assert started.status == 303, started
    at_provider = urllib3.request("GET", started.location, redirect=False)  # the fake sends straight back
    assert at_provider.status == 302, at_provider.data
    back = browser.get(at_provider.headers["Location"])
    assert back.status == 303 and back.location.startswith(f"{UI}registration?flow="), back
    fetched = browser.get(f"/self-service/registration/flows?id={query_param(back.location, 'flow')}", as_json=True)
    assert fetched.status == 200, fetched
    flow: dict[str, Any] = fetched.json()
    return flow


def test_a_social_sign_up_that_needs_traits_shows_them_in_the_flag_s_group(
    warden: ThreadedWarden, fake: FakeProvider, setup: str
) -> None:
    fake.subject, email = f"subject-{uuid.uuid4().hex[:10]}", _email("social")
    browser = Browser(warden.public_url)
    flow = _to_provider(browser)
    groups = _groups(flow)
    assert groups["traits.email"] == ("oidc" if setup == "legacy-groups" else "default"), groups
    assert groups["provider"] == "oidc" and node(flow, "provider")["attributes"]["value"] == "fake"
    assert set(groups) - {"csrf_token", "provider"} == {n for n in groups if n.startswith("traits.")}, groups

    page = open_page(browser, f"{UI}registration?flow={flow['id']}")[1]
    [form] = page.forms  # one form: the traits and the provider's button together
    assert "traits.email" in inputs(form) and [b["value"] for b in form["buttons"]] == ["fake"]
    done = follow(browser, submit(browser, form, {"traits.email": email}, button="provider"))
    assert done.status == 200 and done.headers["Content-Type"].startswith("text/html"), done
    identity = browser.get("/sessions/whoami", as_json=True).json()["identity"]
    assert identity["traits"]["email"] == email
