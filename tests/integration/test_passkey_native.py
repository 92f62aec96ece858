"""Passkeys through Kratos's SDK on native (API) flows, driven by a software authenticator
(tests/webauthn_authenticator.py): sign-up and sign-in with a discoverable credential (no identifier
typed), random user handles, settings add / list / remove (the last way in kept), and the refusals:
wrong origin, wrong RP id, a replayed or spent challenge, a counter going backwards, malformed JSON
and CBOR. Each answers 400 with a flow message, and nothing is stored."""

from __future__ import annotations

import base64
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
    Browser,
    SettingsClient,
    as_dict,
    create_identity,
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
# Kratos's answers: an assertion that does not verify is NewWebAuthnVerifierWrongError (the TOTP text,
# 4000008); a body that does not parse, and the refusal to remove the last way in, are 4000001.
NOT_VERIFIED, UNPARSABLE, NO_SUCH_USER, INVALID_CREDENTIALS = 4000008, 4000001, 4000015, 4000006
LOCK_OUT = "unable to remove this security key because it would lock you out of your account"


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
def two_step(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    """Kratos's default registration style, `profile_first`: the traits, then the credential."""
    directory = tmp_path_factory.mktemp("passkey-two-step")
    flows = {"registration": {"style": "profile_first", "after": {"passkey": {"hooks": SESSION_HOOK}}}}
    with (
        database("postgres", directory) as dsn,
        running_warden(selfservice_settings(directory, dsn, methods=METHODS, flows=flows)) as w,
    ):
        yield w


# Every key of `passkey.config` Kratos reads for the ceremony, set away from its default.
TUNED = {
    "passkey": {
        "enabled": True,
        "config": {
            **METHODS["passkey"]["config"],
            "authenticator_selection": {
                "attachment": "cross-platform",
                "resident_key": "preferred",
                "user_verification": "required",
            },
            "attestation": {"preference": "direct"},
            "timeouts": {"registration": "1m30s", "login": "45s"},
        },
    }
}


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("passkey-tuned")
    flows = {"registration": {"after": {"passkey": {"hooks": SESSION_HOOK}}}}
    with (
        database("postgres", directory) as dsn,
        running_warden(selfservice_settings(directory, dsn, methods=TUNED, flows=flows)) as w,
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
    assert trigger["onclick"] == "window.oryPasskeyLogin()"  # Kratos's deprecated attribute, still sent
    assert {"passkey_challenge", "passkey_login"} <= set(node_names(login))
    # As Kratos: the result node starts the identifier's passkey autofill when the page loads.
    result = node(login, "passkey_login")["attributes"]
    assert result["onloadTrigger"] == "oryPasskeyLoginAutocompleteInit"
    assert result["onload"] == "window.oryPasskeyLoginAutocompleteInit()"
    assert node(login, "identifier")["attributes"]["autocomplete"] == "username webauthn"
    options = _request_options(login)["publicKey"]
    assert options["rpId"] == RP_ID and options.get("allowCredentials", []) == []  # discoverable
    scripts = [n for n in as_dict(login)["ui"]["nodes"] if n["type"] == "script"]
    assert len(scripts) == 1 and scripts[0]["attributes"]["src"].endswith("/.well-known/ory/webauthn.js")
    assert scripts[0]["group"] == "webauthn"  # Kratos's NewWebAuthnScript, whichever method adds it
    registration = frontend.create_native_registration_flow()
    register = node(registration, "passkey_register_trigger")["attributes"]
    assert (register["onclickTrigger"], register["onclick"]) == (
        "oryPasskeyRegistration",
        "window.oryPasskeyRegistration()",
    )
    created = _creation_options(registration)["publicKey"]
    # Kratos's defaults for `passkey.config.authenticator_selection`: no attachment, so the browser
    # offers platform and roaming keys alike; go-webauthn's 5-minute timeouts; no attestation.
    assert created["authenticatorSelection"] == {
        "residentKey": "required",
        "requireResidentKey": True,
        "userVerification": "preferred",
    }
    assert (created["attestation"], created["timeout"], options["timeout"]) == ("none", 300_000, 300_000)
    assert created["rp"] == {"id": RP_ID, "name": "Warden Tests"}
    script = urllib3.request("GET", f"{warden.public_url}/.well-known/ory/webauthn.js")
    assert script.status == 200 and script.headers["Content-Type"].startswith("text/javascript")
    for name in (
        "oryPasskeyLogin",
        "oryPasskeyRegistration",
        "oryPasskeySettingsRegistration",
        "oryPasskeyLoginAutocompleteInit",
        "oryWebAuthnLogin",
        "oryWebAuthnRegistration",
    ):  # the names the `onclick` attributes call, and the older ones
        assert f"window.{name} =" in script.data.decode() and f"window.__{name} =" in script.data.decode()


def test_register_then_sign_in_without_an_identifier(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    key, email = SoftAuthenticator(ORIGIN), _email()
    registered = _register(frontend, key, email)
    identity_id = registered.identity.id
    assert registered.session_token
    # As Kratos: the user handle is 64 random letters and digits, not the identity id, and the
    # credential's identifier is the handle as text.
    assert key.user_handle != identity_id.encode() and len(key.user_handle) == 64 and key.user_handle.isalnum()
    credential = _identities(warden, email)[0]["credentials"]["passkey"]
    assert credential["identifiers"] == [key.user_handle.decode()]
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
    expected = {
        "wrong origin": NOT_VERIFIED,
        "malformed JSON": UNPARSABLE,
        "not a credential": UNPARSABLE,
        "garbage signature": NOT_VERIFIED,
    }
    for case, body in cases.items():
        fresh = frontend.create_native_login_flow()
        assertion = (
            body if case != "wrong origin" else json.dumps(key.get(_request_options(fresh), origin="https://evil.test"))
        )
        status, answer = _post(warden, "login", fresh.id, {"method": "passkey", "passkey_login": assertion})
        assert (status, message_ids(answer)) == (400, [expected[case]]), (case, answer)
        if expected[case] == UNPARSABLE:
            assert answer["ui"]["messages"][0]["text"] == "Unable to parse WebAuthn response."
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
    assert (status, message_ids(answer)) == (400, [NOT_VERIFIED])
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
    assert (status, message_ids(answer)) == (400, [NOT_VERIFIED])
    renewed = _request_options(answer)  # the form carries a new challenge, which works
    status, _ = _post(warden, "login", flow.id, {"method": "passkey", "passkey_login": json.dumps(key.get(renewed))})
    assert status == 200
    # An assertion for one flow's challenge does not open another flow.
    first, second = frontend.create_native_login_flow(), frontend.create_native_login_flow()
    replayed = json.dumps(key.get(_request_options(first)))
    status, answer = _post(warden, "login", second.id, {"method": "passkey", "passkey_login": replayed})
    assert (status, message_ids(answer)) == (400, [NOT_VERIFIED])


def test_a_counter_going_backwards_signs_in_with_a_clone_warning(
    warden: ThreadedWarden, frontend: FrontendApi, caplog: pytest.LogCaptureFixture
) -> None:
    # As Kratos (webauthnx.UpdateSignCountAfterLogin): the counter is stored after each sign-in; one
    # that does not move forward sets `clone_warning` on the key and is logged, but does not refuse.
    key, email = SoftAuthenticator(ORIGIN), _email()
    _register(frontend, key, email)
    _login(frontend, key, count=10)
    assert _authenticator(warden, email) == {"sign_count": 10, "clone_warning": False}
    flow = frontend.create_native_login_flow()
    clone = json.dumps(key.get(_request_options(flow), count=5))
    status, answer = _post(warden, "login", flow.id, {"method": "passkey", "passkey_login": clone})
    assert status == 200, answer
    assert any("cloned authenticator" in r.getMessage() for r in caplog.records)
    assert _authenticator(warden, email) == {"sign_count": 10, "clone_warning": True}
    assert _login(frontend, key, count=11).session.authenticator_assurance_level == "aal1"
    assert _authenticator(warden, email)["sign_count"] == 11


def _authenticator(warden: ThreadedWarden, email: str) -> dict[str, Any]:
    identity_id = _identities(warden, email)[0]["id"]
    url = f"{warden.admin_url}/admin/identities/{identity_id}"
    answer = json.loads(urllib3.request("GET", url, fields={"include_credential": "passkey"}).data)
    stored = answer["credentials"]["passkey"]["config"]["credentials"][0]["authenticator"]
    return {k: stored.get(k) for k in ("sign_count", "clone_warning")}


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
        # Kratos: a body it cannot parse is 4000001; one that parses but does not verify is its 500
        # ("Unable to create WebAuthn credential"), which Warden answers 400 with 4000006.
        expected = INVALID_CREDENTIALS if case == "origin" else UNPARSABLE
        assert status == 400 and message_ids(answer) == [expected], (case, answer)
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
    # As Kratos: the remove buttons carry the credential id in hex (Go's %x).
    assert sorted(n["attributes"]["value"] for n in removes) == sorted(
        [first.credential_id.hex(), second.credential_id.hex()]
    )
    assert not any(n["attributes"]["disabled"] for n in removes)
    assert _login(frontend, second).session.identity.id == answer["identity"]["id"]
    flow = frontend.create_native_settings_flow(x_session_token=token)
    status, answer = _post(warden, "settings", flow.id, {"passkey_remove": first.credential_id.hex()}, token)
    assert status == 200, answer
    flow = frontend.create_native_settings_flow(x_session_token=token)
    # The last way in is shown, disabled, and removing it anyway is refused as Kratos words it.
    assert node(flow, "passkey_remove")["attributes"]["disabled"] is True
    status, answer = _post(warden, "settings", flow.id, {"passkey_remove": b64url(second.credential_id)}, token)
    assert status == 400, answer
    refused = node(answer, "webauthn_remove")
    assert (refused["group"], refused["attributes"]["type"]) == ("default", "text")
    assert [(m["id"], m["text"]) for m in refused["messages"]] == [(UNPARSABLE, LOCK_OUT)]
    assert _login(frontend, second).session.identity.id == answer["identity"]["id"]
    flow = frontend.create_native_settings_flow(x_session_token=token)
    status, answer = _post(warden, "settings", flow.id, {"passkey_remove": "00ff"}, token)
    assert (status, message_ids(answer)) == (400, [UNPARSABLE])
    assert answer["ui"]["messages"][0]["text"] == "You tried to remove a passkey which does not exist."


def test_profile_first_registration_offers_the_passkey_after_the_traits(two_step: ThreadedWarden) -> None:
    key, email = SoftAuthenticator(ORIGIN), _email()
    flow = json.loads(urllib3.request("GET", f"{two_step.public_url}/self-service/registration/api").data)
    assert "passkey_create_data" not in node_names(flow)  # the first screen asks for the traits only
    status, step = post_flow(
        two_step.public_url, "registration", flow["id"], {"method": "profile", "traits": {"email": email}}
    )
    assert (
        status == 400
        and node(step, "passkey_register_trigger")["attributes"]["onclickTrigger"] == "oryPasskeyRegistration"
    )
    created = json.dumps(key.create(_creation_options(step)))
    status, done = post_flow(
        two_step.public_url, "registration", flow["id"], {"method": "passkey", "passkey_register": created}
    )
    assert status == 200, done
    assert done["identity"]["traits"] == {"email": email} and done["session_token"]


@pytest.mark.parametrize("handle", [b"K" * 32 + b"ratos" * 6 + b"42", bytes(range(200, 232))], ids=["kratos", "random"])
def test_imported_passkeys_sign_in_by_their_user_handle(
    warden: ThreadedWarden, frontend: FrontendApi, handle: bytes
) -> None:
    """A passkey imported as Kratos exports it (the handle's bytes in standard base64, found by the
    handle as text), and one of Warden's earlier random-byte handles (found by its base64url)."""
    key, email = SoftAuthenticator(ORIGIN), _email()
    key.user_handle = handle
    stored = {
        "id": b64url(key.credential_id),
        "public_key": b64url(key.cose_public_key()),
        "attestation_type": "none",
        "authenticator": {"aaguid": b64url(bytes(16)), "sign_count": 0, "clone_warning": False},
        "is_passwordless": True,
    }
    config = {"credentials": [stored], "user_handle": base64.b64encode(handle).decode()}
    body = {"schema_id": "default", "traits": {"email": email}, "credentials": {"passkey": {"config": config}}}
    created = urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=body)
    assert created.status == 201, created.data
    expected = handle.decode() if handle.isascii() else b64url(handle)
    assert _identities(warden, email)[0]["credentials"]["passkey"]["identifiers"] == [expected]
    assert _login(frontend, key).session.identity.id == json.loads(created.data)["id"]


def test_the_method_alone_shows_the_passkey_form_again(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    """Kratos: `method: passkey` without a credential resets the form to the passkey's and sends a
    browser back to the login UI (422 for a SPA); an app's flow gets the form, with no error."""
    spa = Browser(warden.public_url, json=True)
    flow = spa.get("/self-service/login/browser").json()
    csrf = node(flow, "csrf_token")["attributes"]["value"]
    answer = spa.post(f"/self-service/login?flow={flow['id']}", {"method": "passkey", "csrf_token": csrf})
    assert (answer.status, answer.json()["error"]["id"]) == (422, "browser_location_change_required")
    shown = spa.get(f"/self-service/login/flows?id={flow['id']}").json()
    assert "password" not in node_names(shown) and {"passkey_challenge", "passkey_login"} <= set(node_names(shown))
    native = frontend.create_native_login_flow()
    status, answer = _post(warden, "login", native.id, {"method": "passkey"})
    assert status == 400 and not message_ids(answer), answer
    key = SoftAuthenticator(ORIGIN)
    _register(frontend, key, _email())
    status, done = _post(
        warden,
        "login",
        native.id,
        {"method": "passkey", "passkey_login": json.dumps(key.get(_request_options(answer)))},
    )
    assert status == 200, done


def test_the_options_follow_the_passkey_config(tuned: ThreadedWarden) -> None:
    """`authenticator_selection`, `attestation.preference` and `timeouts` reach the options the flows
    carry (Kratos's PasskeyConfig for go-webauthn); `user_verification: required` is also checked on
    the answer: a key that only tests presence neither registers nor signs in."""
    with kratos.ApiClient(kratos.Configuration(host=tuned.public_url)) as client:
        api = FrontendApi(client)
        registration = api.create_native_registration_flow()
        created = _creation_options(registration)["publicKey"]
        assert created["authenticatorSelection"] == {
            "authenticatorAttachment": "cross-platform",
            "residentKey": "preferred",
            "requireResidentKey": False,
            "userVerification": "required",
        }
        assert (created["attestation"], created["timeout"]) == ("direct", 90_000)
        request = _request_options(api.create_native_login_flow())["publicKey"]
        assert (request["userVerification"], request["timeout"]) == ("required", 45_000)

        careless, email = SoftAuthenticator(ORIGIN, verifies_user=False), _email()
        body = {"method": "passkey", "passkey_register": json.dumps(careless.create(_creation_options(registration)))}
        status, answer = post_flow(
            tuned.public_url, "registration", registration.id, {**body, "traits": {"email": email}}
        )
        assert (status, message_ids(answer)) == (400, [INVALID_CREDENTIALS]), answer
        assert _identities(tuned, email) == []

        key = SoftAuthenticator(ORIGIN)
        identity_id = _register(api, key, _email()).identity.id
        careless.key, careless.credential_id, careless.user_handle = key.key, key.credential_id, key.user_handle
        flow = api.create_native_login_flow()
        assertion = json.dumps(careless.get(_request_options(flow)))
        status, answer = post_flow(
            tuned.public_url, "login", flow.id, {"method": "passkey", "passkey_login": assertion}
        )
        assert (status, message_ids(answer)) == (400, [NOT_VERIFIED]), answer
        assert _login(api, key).session.identity.id == identity_id


def test_the_last_passkey_removed_beside_a_password_takes_its_credential(
    warden: ThreadedWarden, frontend: FrontendApi
) -> None:
    """As Kratos's passkey settings strategy: with another way in left, removing the last passkey
    deletes the `passkey` credential rather than keeping it empty. The admin API still refuses to
    delete a passkey credential (Kratos's deleteIdentityCredentials)."""
    email, key = _email(), SoftAuthenticator(ORIGIN)
    flow = frontend.create_native_registration_flow()
    password = kratos.UpdateRegistrationFlowWithPasswordMethod(
        method="password", password=f"pw-{uuid.uuid4().hex}", traits={"email": email}
    )
    token = frontend.update_registration_flow(flow.id, kratos.UpdateRegistrationFlowBody(password)).session_token
    flow = frontend.create_native_settings_flow(x_session_token=token)
    added = {"method": "passkey", "passkey_settings_register": json.dumps(key.create(_creation_options(flow)))}
    status, answer = _post(warden, "settings", flow.id, added, token)
    assert status == 200, answer
    identity_id = answer["identity"]["id"]
    url = f"{warden.admin_url}/admin/identities/{identity_id}/credentials/passkey"
    refused = urllib3.request("DELETE", url)
    assert refused.status == 400 and "passkey" in _identities(warden, email)[0]["credentials"]
    flow = frontend.create_native_settings_flow(x_session_token=token)
    status, answer = _post(warden, "settings", flow.id, {"passkey_remove": key.credential_id.hex()}, token)
    assert status == 200, answer
    assert "passkey" not in _identities(warden, email)[0]["credentials"]
    assert "passkey_remove" not in node_names(answer)


@pytest.mark.parametrize("client", ["api", "spa", "browser"])
def test_a_refused_passkey_in_settings_gets_a_new_challenge(warden: ThreadedWarden, client: str) -> None:
    """The answer to the options spends their challenge, right or wrong. A refused passkey answered
    the settings form with the spent challenge still in `passkey_create_data`, so every retry on
    that flow was refused too (4000006) until a new flow: the form now carries a new challenge, as
    registration's does, and a passkey answering it is added and signs in."""
    email = _email()
    identity_id = create_identity(warden.admin_url, email)
    settings = SettingsClient(warden.public_url, email, client)
    key, spent = SoftAuthenticator(ORIGIN), _creation_options(settings.flow)
    wrong = json.dumps(key.create(spent, origin="https://evil.test"))
    status = settings.submit({"method": "passkey", "passkey_settings_register": wrong})
    assert (status, message_ids(settings.flow)) == (settings.refused, [INVALID_CREDENTIALS]), settings.flow
    created = json.loads(node(settings.flow, "passkey_create_data")["attributes"]["value"])
    renewed = created["credentialOptions"]
    assert renewed["publicKey"]["challenge"] != spent["publicKey"]["challenge"]
    assert renewed["publicKey"]["user"]["id"] == spent["publicKey"]["user"]["id"]  # the same user handle
    assert created["displayNameFieldName"] == "traits.email"
    trigger = node(settings.flow, "passkey_register_trigger")["attributes"]
    assert trigger["onclickTrigger"] == "oryPasskeySettingsRegistration"
    assert node(settings.flow, "passkey_settings_register")["attributes"]["type"] == "hidden"
    added = {"method": "passkey", "passkey_settings_register": json.dumps(key.create(renewed))}
    assert settings.submit(added) == 200, settings.flow
    assert settings.flow["state"] == "success"
    with kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as api:
        assert _login(FrontendApi(api), key).session.identity.id == identity_id


@pytest.mark.parametrize("flag", [True, False, None], ids=["passwordless", "not-passwordless", "unflagged"])
def test_only_passwordless_passkeys_sign_in(warden: ThreadedWarden, frontend: FrontendApi, flag: bool | None) -> None:
    """Kratos's passkey login takes only keys flagged passwordless (`PasswordlessOnly`): a passkey an
    admin imported with `is_passwordless: false` is refused as any wrong key is (4000008). A key
    without the flag is one Warden registered before it stored the flag, and signs in."""
    key, email, handle = SoftAuthenticator(ORIGIN), _email(), uuid.uuid4().hex.encode()
    key.user_handle = handle
    stored: dict[str, Any] = {
        "id": b64url(key.credential_id),
        "public_key": b64url(key.cose_public_key()),
        "attestation_type": "none",
        "authenticator": {"aaguid": b64url(bytes(16)), "sign_count": 0, "clone_warning": False},
        **({} if flag is None else {"is_passwordless": flag}),
    }
    config = {"credentials": [stored], "user_handle": base64.b64encode(handle).decode()}
    credentials = {"password": {"config": {"password": "pw-" + uuid.uuid4().hex}}, "passkey": {"config": config}}
    body = {"schema_id": "default", "traits": {"email": email}, "credentials": credentials}
    created = urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=body)
    assert created.status == 201, created.data
    flow = frontend.create_native_login_flow()
    assertion = json.dumps(key.get(_request_options(flow)))
    status, answer = _post(warden, "login", flow.id, {"method": "passkey", "passkey_login": assertion})
    if flag is False:
        assert (status, message_ids(answer)) == (400, [NOT_VERIFIED]), answer
        assert "passkey_challenge" in node_names(answer)  # a new challenge, for another key
    else:
        assert status == 200 and answer["session"]["identity"]["id"] == json.loads(created.data)["id"], answer


def test_a_registered_passkey_is_stored_as_passwordless(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    """As Kratos stores it (`CredentialFromWebAuthn(credential, true)`), in sign-up and in settings."""
    first, second, email = SoftAuthenticator(ORIGIN), SoftAuthenticator(ORIGIN), _email()
    token = _register(frontend, first, email).session_token
    flow = frontend.create_native_settings_flow(x_session_token=token)
    added = {"method": "passkey", "passkey_settings_register": json.dumps(second.create(_creation_options(flow)))}
    status, answer = _post(warden, "settings", flow.id, added, token)
    assert status == 200, answer
    url = f"{warden.admin_url}/admin/identities/{answer['identity']['id']}"
    stored = json.loads(urllib3.request("GET", url, fields={"include_credential": "passkey"}).data)
    assert [k.get("is_passwordless") for k in stored["credentials"]["passkey"]["config"]["credentials"]] == [True, True]
