"""The range API breach check in the flows that set a password (registration, and settings, where
recovery also ends), through Kratos's SDK against a Warden whose `haveibeenpwned_host` names a real
HTTPS range server on loopback (tests/hibp_range.py). Storage plays no part in the check: one engine.

`max_breaches: 2`, `ignore_network_errors: false`: what the range says decides, and a range that
cannot be had refuses the password."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import ory_kratos_client as kratos
import pytest
from ory_kratos_client.api.frontend_api import FrontendApi

from tests.factories import running_warden
from tests.hibp_range import RangeServer
from tests.selfservice_helpers import PASSWORD, api_error, node, sqlite_selfservice_settings

BREACHED = "Sapphire-Otter-Meadow-3391"  # not in the offline list: only the range knows it


@pytest.fixture(scope="module")
def hibp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RangeServer]:
    server = RangeServer(tmp_path_factory.mktemp("hibp")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def frontend(hibp: RangeServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FrontendApi]:
    config = {"haveibeenpwned_host": hibp.host, "max_breaches": 2, "ignore_network_errors": False}
    settings = sqlite_selfservice_settings(
        tmp_path_factory.mktemp("breach-flows"), methods={"password": {"enabled": True, "config": config}}
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SSL_CERT_FILE", str(hibp.pair.cert_path))  # the mirror's CA, trusted from start-up
        with running_warden(settings) as warden, kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as c:
            yield FrontendApi(c)


def _email() -> str:
    return f"breach-{uuid.uuid4().hex[:10]}@example.com"


def _registration(email: str, password: str) -> kratos.UpdateRegistrationFlowBody:
    return kratos.UpdateRegistrationFlowBody(
        kratos.UpdateRegistrationFlowWithPasswordMethod(method="password", password=password, traits={"email": email})
    )


def _refused_registration(frontend: FrontendApi, password: str) -> tuple[int, dict[str, Any]]:
    flow = frontend.create_native_registration_flow()
    return api_error(lambda: frontend.update_registration_flow(flow.id, _registration(_email(), password)))


def _password_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: m[k] for k in ("id", "text", "context") if k in m} for m in node(body, "password")["messages"]]


def test_registration_refuses_a_password_breached_more_than_max_breaches(
    frontend: FrontendApi, hibp: RangeServer
) -> None:
    hibp.breached(BREACHED, 3)
    status, body = _refused_registration(frontend, BREACHED)
    assert status == 400
    assert _password_messages(body) == [
        {
            "id": 4000034,
            "text": "The password has been found in data breaches and must no longer be used.",
            "context": {"breaches": 3},
        }
    ]


def test_registration_accepts_a_password_breached_up_to_max_breaches(frontend: FrontendApi, hibp: RangeServer) -> None:
    password = "Cobalt-Heron-Lattice-5120"
    hibp.breached(password, 2)
    flow = frontend.create_native_registration_flow()
    email = _email()
    assert frontend.update_registration_flow(flow.id, _registration(email, password)).identity.traits == {
        "email": email
    }


def test_the_offline_list_still_applies(frontend: FrontendApi, hibp: RangeServer) -> None:
    asked = len(hibp.requests())
    status, body = _refused_registration(frontend, "1qaz2wsx3edc")  # in the shipped list, unknown to the range
    assert (status, [m["id"] for m in _password_messages(body)]) == (400, [4000034])
    assert len(hibp.requests()) == asked, "a password the offline rules refuse is not sent anywhere"


def test_a_range_that_cannot_be_had_refuses_the_password(frontend: FrontendApi, hibp: RangeServer) -> None:
    password = "Juniper-Anvil-Comet-7702"
    hibp.answer(password, 503)
    status, body = _refused_registration(frontend, password)
    assert status == 400
    assert _password_messages(body) == [
        {
            "id": 4000005,
            "text": "The password can not be used because 503: unexpected status code.",
            "context": {"reason": "503: unexpected status code"},
        }
    ]


def test_an_answer_that_is_not_a_range_is_a_502(frontend: FrontendApi, hibp: RangeServer) -> None:
    password = "Marble-Falcon-Ridge-6634"
    hibp.answer(password, 200, "ABCDEF:many\r\n")
    status, body = _refused_registration(frontend, password)
    assert status == 502 and body["error"]["code"] == 502, body


def test_settings_refuses_a_breached_new_password(frontend: FrontendApi, hibp: RangeServer) -> None:
    flow = frontend.create_native_registration_flow()
    token = frontend.update_registration_flow(flow.id, _registration(_email(), PASSWORD)).session_token
    hibp.breached("Velvet-Glacier-Orbit-2288", 40)
    settings = frontend.create_native_settings_flow(x_session_token=token)
    body = kratos.UpdateSettingsFlowBody(
        kratos.UpdateSettingsFlowWithPasswordMethod(method="password", password="Velvet-Glacier-Orbit-2288")
    )
    status, refused = api_error(lambda: frontend.update_settings_flow(settings.id, body, x_session_token=token))
    assert status == 400
    assert [(m["id"], m.get("context")) for m in _password_messages(refused)] == [(4000034, {"breaches": 40})]
