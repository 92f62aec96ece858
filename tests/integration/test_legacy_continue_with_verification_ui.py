"""`feature_flags.legacy_continue_with_verification_ui`, with verification enabled: Kratos lists a
sign-up's verification flow in `continue_with` only for the `show_verification_ui` hook, and the
flag brings back its former answer, which always lists it. The flag adds no redirect: a browser
form still returns to `return_to` unless the hook is configured. Through the native API (the Kratos
SDK), a SPA and the built-in UI, on three Wardens: flag off, flag on, flag on with the hook."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ory_kratos_client as kratos
import pytest
from ory_kratos_client.api.frontend_api import FrontendApi

from tests.factories import ThreadedWarden, running_warden, settings_for
from tests.integration.test_builtin_ui import UI, WELCOME, open_page, submit, ui_config
from tests.mail_folder import wait_for_mails
from tests.selfservice_helpers import PASSWORD, Browser, as_dict, node

SETUPS = {"off": (False, False), "on": (True, False), "on-with-hook": (True, True)}


@pytest.fixture(scope="module", params=list(SETUPS))
def setup(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def warden(setup: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    flag, hook = SETUPS[setup]
    directory: Path = tmp_path_factory.mktemp(f"continue-with-{setup}")
    config: dict[str, Any] = ui_config()
    flows = config["selfservice"]["flows"]
    flows["verification"]["enabled"] = True
    hooks = [{"hook": "session"}, *([{"hook": "show_verification_ui"}] if hook else [])]
    flows["registration"]["after"] = {"password": {"hooks": hooks}}
    config["selfservice"]["methods"] = {"code": {"enabled": True}, "password": {"enabled": True}}
    config["feature_flags"] = {"legacy_continue_with_verification_ui": flag}
    with running_warden(settings_for(directory, f"sqlite://{directory}/warden.sqlite", config)) as running:
        yield running


@pytest.fixture(scope="module")
def frontend(warden: ThreadedWarden) -> Iterator[FrontendApi]:
    with kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as client:
        yield FrontendApi(client)


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _shown(continue_with: list[dict[str, Any]], email: str, setup: str) -> list[dict[str, Any]]:
    """The verification items: none without the flag or the hook, else exactly one, for `email`."""
    shown = [c for c in continue_with if c["action"] == "show_verification_ui"]
    if setup == "off":
        assert shown == [], continue_with
    else:
        [item] = shown  # never twice, flag and hook together
        assert item["flow"]["verifiable_address"] == email
    return shown


def test_a_native_sign_up_lists_the_verification_flow_with_the_flag_or_the_hook(
    warden: ThreadedWarden, frontend: FrontendApi, setup: str
) -> None:
    email = _email("app")
    body = kratos.UpdateRegistrationFlowBody(
        kratos.UpdateRegistrationFlowWithPasswordMethod(method="password", password=PASSWORD, traits={"email": email})
    )
    registered = as_dict(frontend.update_registration_flow(frontend.create_native_registration_flow().id, body))
    actions = [c["action"] for c in registered["continue_with"]]
    shown = _shown(registered["continue_with"], email, setup)
    assert actions[-1] == "set_ory_session_token", "the verification item comes before the session's"
    for item in shown:
        verification = as_dict(frontend.get_verification_flow(item["flow"]["id"]))
        assert verification["type"] == "api" and verification["state"] == "sent_email"
    mail_dir = Path(warden.process.settings.get("services.courier.mail_dir"))
    wait_for_mails(mail_dir, email)  # the code goes out whatever the answer lists, as in Kratos


def test_a_spa_sign_up_lists_it_after_the_redirect(warden: ThreadedWarden, setup: str) -> None:
    email, spa = _email("spa"), Browser(warden.public_url, json=True)
    flow = spa.get("/self-service/registration/browser").json()
    body = {
        "csrf_token": node(flow, "csrf_token")["attributes"]["value"],
        "method": "password",
        "traits": {"email": email},
        "password": PASSWORD,
    }
    registered = spa.post(flow["ui"]["action"], body)
    assert registered.status == 200, registered
    continue_with = registered.json()["continue_with"]
    assert continue_with[0] == {"action": "redirect_browser_to", "redirect_browser_to": WELCOME}
    for item in _shown(continue_with, email, setup):
        assert item["flow"]["url"] == f"{UI}verification?flow={item['flow']['id']}"


def test_only_the_hook_sends_a_browser_form_to_the_verification_page(warden: ThreadedWarden, setup: str) -> None:
    browser = Browser(warden.public_url)
    _, page = open_page(browser, "/ui/registration")
    registered = submit(browser, page.form("traits.email"), {"traits.email": _email("ui"), "password": PASSWORD})
    assert registered.status == 303, registered
    if setup == "on-with-hook":
        assert registered.location.startswith(f"{UI}verification?flow="), registered
        _, shown = open_page(browser, registered.location)
        assert shown.form("code")
    else:
        assert registered.location == WELCOME, registered
