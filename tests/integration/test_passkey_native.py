"""Passkeys through Kratos's SDK on native (API) flows, driven by a software authenticator
(tests/webauthn_authenticator.py): sign-up and sign-in with a discoverable credential (no identifier
typed), random user handles, settings add / list / remove (the last way in kept), and the refusals:
wrong origin, wrong RP id, a replayed or spent challenge, a counter going backwards, malformed JSON
and CBOR. Each answers 400 with a flow message, and nothing is stored."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import ory_kratos_client as kratos
import pytest
import urllib3
from ory_kratos_client.api.frontend_api import FrontendApi

from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import (
    SESSION_HOOK,
    as_dict,
    database,
    message_ids,
    node,
    node_names,
    selfservice_settings,
)
from tests.webauthn_authenticator import SoftAuthenticator, b64url, post_flow

RP_ID = "warden.test"
ORIGIN = "https://warden.test"
METHODS = {
    "password": {"enabled": True},
    "passkey": {"enabled": True, "config": {"rp": {"id": RP_ID, "origins": [ORIGIN], "display_name": "Warden Tests"}}},
}
INVALID_CREDENTIALS, NO_SUCH_USER, LAST_FIRST_FACTOR = 4000006, 4000015, 4050003


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("passkey-native")
    flows = {"registration": {"after": {"password": {"hooks": SESSION_HOOK}, "passkey": {"hooks": SESSION_HOOK}}}}
    with (
        database("postgres", directory) as dsn,
        running_warden(selfservice_settings(directory, dsn, methods=METHODS, flows=flows)) as w,
    ):
        yield w


@pytest.fixture(scope="module")
def frontend(warden: ThreadedWarden) -> Iterator[FrontendApi]:
    with kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as client:
        yield FrontendApi(client)


def _email() -> str:
    return f"passkey-{uuid.uuid4().hex[:10]}@example.com"


def _creation_options(flow: Any) -> dict[str, Any]:
    return json.loads(node(flow, "passkey_create_data")["attributes"]["value"])["credentialOptions"]


def _request_options(flow: Any) -> dict[str, Any]:
    return json.loads(node(flow, "passkey_challenge")["attributes"]["value"])


def _post(warden: ThreadedWarden, kind: str, flow_id: str, body: dict[str, Any], token: str | None = None) -> Any:
    return post_flow(warden.public_url, kind, flow_id, body, token)


def _register(frontend: FrontendApi, key: SoftAuthenticator, email: str) -> Any:
    flow = frontend.create_native_registration_flow()
    body = kratos.UpdateRegistrationFlowWithPasskeyMethod(
        method="passkey", passkey_register=json.dumps(key.create(_creation_options(flow))), traits={"email": email}
    )
    return frontend.update_registration_flow(flow.id, kratos.UpdateRegistrationFlowBody(body))


def _login(frontend: FrontendApi, key: SoftAuthenticator, **kw: Any) -> Any:
    flow = frontend.create_native_login_flow()
    body = kratos.UpdateLoginFlowWithPasskeyMethod(
        method="passkey", passkey_login=json.dumps(key.get(_request_options(flow), **kw))
    )
    return frontend.update_login_flow(flow.id, kratos.UpdateLoginFlowBody(body))


def _identities(warden: ThreadedWarden, email: str) -> list[dict[str, Any]]:
    url = f"{warden.admin_url}/admin/identities?credentials_identifier={email}"
    return list(json.loads(urllib3.request("GET", url).data))


def test_flows_carry_kratos_nodes_and_the_script(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    login = frontend.create_native_login_flow()
    trigger = node(login, "passkey_login_trigger")["attributes"]
    assert trigger["onclickTrigger"] == "oryPasskeyLogin" and trigger["type"] == "button"
    assert {"passkey_challenge", "passkey_login"} <= set(node_names(login))
    # As Kratos: the result node starts the identifier's passkey autofill when the page loads.
    assert node(login, "passkey_login")["attributes"]["onloadTrigger"] == "oryPasskeyLoginAutocompleteInit"
    options = _request_options(login)["publicKey"]
    assert options["rpId"] == RP_ID and options.get("allowCredentials", []) == []  # discoverable
    scripts = [n for n in as_dict(login)["ui"]["nodes"] if n["type"] == "script"]
    assert scripts and scripts[0]["attributes"]["src"].endswith("/.well-known/ory/webauthn.js")
    registration = frontend.create_native_registration_flow()
    assert node(registration, "passkey_register_trigger")["attributes"]["onclickTrigger"] == "oryPasskeyRegistration"
    created = _creation_options(registration)["publicKey"]
    assert created["authenticatorSelection"]["residentKey"] == "required"
    assert created["rp"] == {"id": RP_ID, "name": "Warden Tests"}
    script = urllib3.request("GET", f"{warden.public_url}/.well-known/ory/webauthn.js")
    assert script.status == 200 and script.headers["Content-Type"].startswith("text/javascript")
    for name in (
        "__oryPasskeyLogin",
        "__oryPasskeyRegistration",
        "__oryPasskeySettingsRegistration",
        "__oryPasskeyLoginAutocompleteInit",
        "__oryWebAuthnLogin",
        "__oryWebAuthnRegistration",
    ):
        assert f"window.{name} =" in script.data.decode()


def test_register_then_sign_in_without_an_identifier(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    key, email = SoftAuthenticator(ORIGIN), _email()
    registered = _register(frontend, key, email)
    identity_id = registered.identity.id
    assert registered.session_token
    # The user handle is random: 32 bytes, not the identity id.
    assert key.user_handle != identity_id.encode() and len(key.user_handle) == 32
    credential = _identities(warden, email)[0]["credentials"]["passkey"]
    assert credential["identifiers"] == [b64url(key.user_handle)]
    signed_in = _login(frontend, key)
    assert signed_in.session.identity.id == identity_id
    methods = [m.method for m in signed_in.session.authentication_methods]
    assert methods == ["passkey"] and signed_in.session.authenticator_assurance_level == "aal1"


def test_refusals_answer_400_with_a_flow_message(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    key = SoftAuthenticator(ORIGIN)
    _register(frontend, key, _email())
    flow = frontend.create_native_login_flow()
    options = _request_options(flow)
    cases = {
        "wrong origin": json.dumps(key.get(options, origin="https://evil.test")),
        "malformed JSON": "{not json",
        "not a credential": json.dumps({"id": 1}),
        "garbage signature": json.dumps(
            {**key.get(options), "response": {**key.get(options)["response"], "signature": "AAAA"}}
        ),
    }
    for case, body in cases.items():
        fresh = frontend.create_native_login_flow()
        assertion = (
            body if case != "wrong origin" else json.dumps(key.get(_request_options(fresh), origin="https://evil.test"))
        )
        status, answer = _post(warden, "login", fresh.id, {"method": "passkey", "passkey_login": assertion})
        assert status == 400, (case, answer)
        assert message_ids(answer), case
    # Wrong RP id: the authenticator signs for another relying party.
    other = SoftAuthenticator(ORIGIN, rp_id="evil.test", key=key.key, credential_id=key.credential_id)
    other.user_handle, other.sign_count = key.user_handle, 100
    fresh = frontend.create_native_login_flow()
    status, answer = _post(
        warden,
        "login",
        fresh.id,
        {"method": "passkey", "passkey_login": json.dumps(other.get(_request_options(fresh)))},
    )
    assert (status, message_ids(answer)) == (400, [INVALID_CREDENTIALS])
    # An unknown user handle says nothing more than "no such key".
    stranger = SoftAuthenticator(ORIGIN)
    stranger.user_handle = b"x" * 32
    fresh = frontend.create_native_login_flow()
    status, answer = _post(
        warden,
        "login",
        fresh.id,
        {"method": "passkey", "passkey_login": json.dumps(stranger.get(_request_options(fresh)))},
    )
    assert (status, message_ids(answer)) == (400, [NO_SUCH_USER])


def test_challenges_are_single_use_and_bound_to_the_flow(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    key = SoftAuthenticator(ORIGIN)
    _register(frontend, key, _email())
    # Spent by a failed answer: the right answer to the old challenge is then refused.
    flow = frontend.create_native_login_flow()
    options = _request_options(flow)
    status, _ = _post(
        warden,
        "login",
        flow.id,
        {"method": "passkey", "passkey_login": json.dumps(key.get(options, origin="https://evil.test"))},
    )
    assert status == 400
    status, answer = _post(
        warden, "login", flow.id, {"method": "passkey", "passkey_login": json.dumps(key.get(options))}
    )
    assert (status, message_ids(answer)) == (400, [INVALID_CREDENTIALS])
    renewed = _request_options(answer)  # the form carries a new challenge, which works
    status, _ = _post(warden, "login", flow.id, {"method": "passkey", "passkey_login": json.dumps(key.get(renewed))})
    assert status == 200
    # An assertion for one flow's challenge does not open another flow.
    first, second = frontend.create_native_login_flow(), frontend.create_native_login_flow()
    replayed = json.dumps(key.get(_request_options(first)))
    status, answer = _post(warden, "login", second.id, {"method": "passkey", "passkey_login": replayed})
    assert (status, message_ids(answer)) == (400, [INVALID_CREDENTIALS])


def test_a_counter_going_backwards_is_refused(
    warden: ThreadedWarden, frontend: FrontendApi, caplog: pytest.LogCaptureFixture
) -> None:
    key = SoftAuthenticator(ORIGIN)
    _register(frontend, key, _email())
    _login(frontend, key, count=10)
    flow = frontend.create_native_login_flow()
    clone = json.dumps(key.get(_request_options(flow), count=5))
    status, answer = _post(warden, "login", flow.id, {"method": "passkey", "passkey_login": clone})
    assert (status, message_ids(answer)) == (400, [INVALID_CREDENTIALS])
    assert any("cloned authenticator" in r.getMessage() for r in caplog.records)
    assert _login(frontend, key, count=11).session.authenticator_assurance_level == "aal1"


def test_a_refused_registration_stores_nothing(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    key = SoftAuthenticator(ORIGIN)
    for case in ("origin", "cbor", "json"):
        email = _email()
        flow = frontend.create_native_registration_flow()
        credential = key.create(_creation_options(flow), origin="https://evil.test" if case == "origin" else None)
        if case == "cbor":
            credential["response"]["attestationObject"] = b64url(b"\xa3\x63fmt\xff\x00")
        raw = "[[[" if case == "json" else json.dumps(credential)
        status, answer = _post(
            warden, "registration", flow.id, {"method": "passkey", "passkey_register": raw, "traits": {"email": email}}
        )
        assert status == 400 and message_ids(answer) == [INVALID_CREDENTIALS], (case, answer)
        assert _identities(warden, email) == []


def test_settings_add_list_and_remove_keeping_one(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    first, second = SoftAuthenticator(ORIGIN), SoftAuthenticator(ORIGIN)
    token = _register(frontend, first, _email()).session_token
    flow = frontend.create_native_settings_flow(x_session_token=token)
    assert node(flow, "passkey_register_trigger")["attributes"]["onclickTrigger"] == "oryPasskeySettingsRegistration"
    options = _creation_options(flow)
    assert options["publicKey"]["excludeCredentials"][0]["id"] == b64url(first.credential_id)
    second_result = second.create(options)
    assert second.user_handle == first.user_handle  # one handle per identity
    status, answer = _post(
        warden,
        "settings",
        flow.id,
        {"method": "passkey", "passkey_settings_register": json.dumps(second_result)},
        token,
    )
    assert status == 200, answer
    removes = [n for n in answer["ui"]["nodes"] if n["attributes"].get("name") == "passkey_remove"]
    assert sorted(n["attributes"]["value"] for n in removes) == sorted(
        [b64url(first.credential_id), b64url(second.credential_id)]
    )
    assert _login(frontend, second).session.identity.id == answer["identity"]["id"]
    flow = frontend.create_native_settings_flow(x_session_token=token)
    status, answer = _post(warden, "settings", flow.id, {"passkey_remove": b64url(first.credential_id)}, token)
    assert status == 200, answer
    flow = frontend.create_native_settings_flow(x_session_token=token)
    status, answer = _post(warden, "settings", flow.id, {"passkey_remove": b64url(second.credential_id)}, token)
    assert (status, message_ids(answer)) == (400, [LAST_FIRST_FACTOR])
    assert _login(frontend, second).session.identity.id == answer["identity"]["id"]
