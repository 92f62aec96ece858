"""A method added through the method list alone: a toy method, defined here in test code only, with
a route of its own and a UI node of its own, joins the login flow because it implements the login
Protocol, and its route reaches the route table and nginx because its `MethodSpec` names it. No file
of the core knows about it.

The toy signs in whoever names a password identifier and the word its own route hands out (a word
drawn when the method is built): enough to drive a real login end to end, through the identity
client's lookup by credential identifier."""

from __future__ import annotations

import importlib.util
import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
import urllib3
from aiohttp import web

from services.courier.service import DEFINITION as COURIER
from services.identity.service import DEFINITION as IDENTITY
from services.selfservice.flows.errors import FlowInvalid
from services.selfservice.flows.flow import Flow
from services.selfservice.flows.login.strategy import LoginOutcome, LoginStrategy
from services.selfservice.flows.registration.strategy import RegistrationStrategy
from services.selfservice.flows.ui import input_node
from services.selfservice.service import selfservice_definition
from services.selfservice.strategies import METHODS
from services.selfservice.strategies.registry import MethodSpec, method_route
from services.session.service import DEFINITION as SESSION
from shared import text
from shared.clients.ports import IdentityClient
from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import create_identity, selfservice_settings
from warden.routes import nginx_config, route_table

WORD_PATH = "/self-service/methods/toy/word"
GENERATE_INGRESS = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "generate_ingress.py"


class ToyStrategy:
    method = "toy"

    def __init__(self, identities: IdentityClient) -> None:
        self.identities = identities
        self.word = secrets.token_hex(8)

    def populate_login(self, flow: Flow) -> None:
        flow.ui.add(
            input_node("toy", "toy_identifier", "text", required=True, label=text.label_id()),
            input_node("toy", "toy_word", "text", required=True, label=text.label_id()),
            input_node("toy", "method", "submit", value="toy", label=text.label_continue()),
        )

    async def login(self, flow: Flow, body: dict[str, Any]) -> LoginOutcome:
        identity = await self.identities.find_by_credential_identifier("password", str(body.get("toy_identifier")))
        if identity is None or not secrets.compare_digest(str(body.get("toy_word") or ""), self.word):
            flow.ui.messages.append(text.invalid_credentials())
            raise FlowInvalid()
        return LoginOutcome(identity, {"method": "toy", "aal": "aal1"})


async def _word(toy: ToyStrategy, request: web.Request) -> web.Response:
    return web.json_response({"word": toy.word})


TOY = MethodSpec(
    id="toy",
    node_group="toy",
    credential_type=None,
    build=lambda deps: ToyStrategy(deps.identities),
    enabled_by_default=True,
    routes=(method_route("public", "GET", WORD_PATH, "toy", ToyStrategy, _word),),
)
SERVICES = [IDENTITY, SESSION, selfservice_definition((*METHODS, TOY)), COURIER]


def _call(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    response = urllib3.request(method, url, json=body, headers={"Accept": "application/json"}, redirect=False)
    return response.status, json.loads(response.data) if response.data else None


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("toy")
    settings = selfservice_settings(directory, f"sqlite://{directory}/warden.sqlite")
    with running_warden(settings, SERVICES) as running:
        yield running


def test_the_toy_joins_login_only_by_the_protocol_it_implements() -> None:
    toy = ToyStrategy(cast(IdentityClient, None))
    assert isinstance(toy, LoginStrategy)
    assert not isinstance(toy, RegistrationStrategy)


def _ingress_paths() -> Any:
    spec = importlib.util.spec_from_file_location("generate_ingress", GENERATE_INGRESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ingress_paths


def test_the_toy_route_reaches_the_route_table_nginx_and_the_ingress() -> None:
    owners = {(r.port, r.path): r.service for r in route_table(SERVICES)}
    assert owners[("public", WORD_PATH)] == "selfservice"
    assert f"location = {WORD_PATH} {{ proxy_pass http://warden_selfservice_public; }}" in nginx_config(
        services=SERVICES
    )
    assert (WORD_PATH, "Exact", "selfservice") in _ingress_paths()(SERVICES)
    assert ("public", WORD_PATH) not in {(r.port, r.path) for r in route_table()}  # only where it is listed


def test_a_login_with_the_toy_method(warden: ThreadedWarden) -> None:
    email = f"toy-{uuid.uuid4().hex[:8]}@example.org"
    identity_id = create_identity(warden.admin_url, email)
    status, flow = _call("GET", f"{warden.public_url}/self-service/login/api")
    assert status == 200
    groups = {n["attributes"].get("name"): n["group"] for n in flow["ui"]["nodes"]}
    assert groups["toy_word"] == "toy" and groups["password"] == "password"
    submit = f"{warden.public_url}/self-service/login?flow={flow['id']}"

    status, refused = _call("POST", submit, {"method": "toy", "toy_identifier": email, "toy_word": "wrong"})
    assert status == 400
    assert [m["id"] for m in refused["ui"]["messages"]] == [4000006]

    status, word = _call("GET", f"{warden.public_url}{WORD_PATH}")
    assert status == 200
    status, done = _call("POST", submit, {"method": "toy", "toy_identifier": email, "toy_word": word["word"]})
    assert status == 200, done
    assert done["session"]["identity"]["id"] == identity_id
    assert done["session"]["authentication_methods"][0]["method"] == "toy"
    whoami = urllib3.request(
        "GET", f"{warden.public_url}/sessions/whoami", headers={"X-Session-Token": done["session_token"]}
    )
    assert whoami.status == 200 and json.loads(whoami.data)["identity"]["id"] == identity_id


def test_a_disabled_toy_keeps_its_route_but_answers_404(tmp_path: Path) -> None:
    off = [IDENTITY, SESSION, selfservice_definition((*METHODS, replace(TOY, enabled_by_default=False))), COURIER]
    settings = selfservice_settings(tmp_path, f"sqlite://{tmp_path}/warden.sqlite")
    with running_warden(settings, off) as running:
        assert _call("GET", f"{running.public_url}{WORD_PATH}")[0] == 404
        status, flow = _call("GET", f"{running.public_url}/self-service/login/api")
        assert status == 200 and all(n["group"] != "toy" for n in flow["ui"]["nodes"])
