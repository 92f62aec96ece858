"""Security keys (selfservice.methods.webauthn) through native flows, driven by the software
authenticator: added in settings with a display name and listed, asked for as the second step of a
login (aal2, only the identity's own keys allowed), refused from a wrong origin, removed from an aal2
session; and with `config.passwordless: true` a first factor after the identifier is typed."""

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
    PASSWORD,
    Browser,
    SettingsClient,
    as_dict,
    create_identity,
    database,
    message_ids,
    node,
    selfservice_settings,
)
from tests.webauthn_authenticator import SoftAuthenticator, b64url, post_flow

RP = {"id": "warden.test", "origin": "https://warden.test", "display_name": "Warden Tests"}
ORIGIN = RP["origin"]


def _methods(passwordless: bool) -> dict[str, Any]:
    return {
        "password": {"enabled": True},
        "webauthn": {"enabled": True, "config": {"rp": RP, "passwordless": passwordless}},
    }


@pytest.fixture(scope="module", params=[False, True], ids=["second-factor", "passwordless"])
def warden(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("webauthn-native")
    with (
        database("postgres", directory) as dsn,
        running_warden(selfservice_settings(directory, dsn, methods=_methods(request.param))) as w,
    ):
        w.passwordless = request.param  # type: ignore[attr-defined]
        yield w


@pytest.fixture(scope="module")
def frontend(warden: ThreadedWarden) -> Iterator[FrontendApi]:
    with kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as client:
        yield FrontendApi(client)


def _password_login(frontend: FrontendApi, email: str) -> str:
    flow = frontend.create_native_login_flow()
    body = kratos.UpdateLoginFlowWithPasswordMethod(method="password", identifier=email, password=PASSWORD)
    return str(frontend.update_login_flow(flow.id, kratos.UpdateLoginFlowBody(body)).session_token)


def _options(flow: Any, name: str) -> dict[str, Any]:
    return json.loads(node(flow, name)["attributes"]["value"])


def _add_key(warden: ThreadedWarden, frontend: FrontendApi, token: str, name: str) -> tuple[SoftAuthenticator, Any]:
    key = SoftAuthenticator(ORIGIN)
    flow = frontend.create_native_settings_flow(x_session_token=token)
    trigger = node(flow, "webauthn_register_trigger")["attributes"]
    assert trigger["onclickTrigger"] == "oryWebAuthnRegistration"
    assert trigger["onclick"] == f"window.oryWebAuthnRegistration({trigger['value']})"  # Kratos's deprecated call
    created = key.create(json.loads(trigger["value"]))
    body = {"method": "webauthn", "webauthn_register": json.dumps(created), "webauthn_register_displayname": name}
    status, answer = post_flow(warden.public_url, "settings", flow.id, body, token)
    assert status == 200, answer
    return key, answer


def test_a_security_key_as_the_second_step(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    email = f"key-{uuid.uuid4().hex[:8]}@example.com"
    create_identity(warden.admin_url, email)
    token = _password_login(frontend, email)
    key, answer = _add_key(warden, frontend, token, "Blue key")
    removes = [n for n in answer["ui"]["nodes"] if n["attributes"].get("name") == "webauthn_remove"]
    assert [n["attributes"]["value"] for n in removes] == [key.credential_id.hex()]  # Kratos's %x
    assert 'Remove security key "Blue key"' in removes[0]["meta"]["label"]["text"]
    if warden.passwordless:  # type: ignore[attr-defined]
        return  # a passwordless key is a first factor: its test is below
    # A new password login is aal1; the aal2 step asks for this identity's key and no other.
    token = _password_login(frontend, email)
    flow = frontend.create_native_login_flow(aal="aal2", x_session_token=token)
    options = _options(flow, "webauthn_login_trigger")
    assert [c["id"] for c in options["publicKey"]["allowCredentials"]] == [b64url(key.credential_id)]
    assert options["publicKey"]["userVerification"] == "discouraged"  # Kratos's WebAuthnConfig
    assert options["publicKey"]["timeout"] == 120_000  # go-webauthn's default without user verification
    trigger = node(flow, "webauthn_login_trigger")
    assert trigger["meta"]["label"]["id"] == 1010008
    assert trigger["attributes"]["onclick"] == f"window.oryWebAuthnLogin({trigger['attributes']['value']})"
    wrong = json.dumps(key.get(options, origin="https://evil.test"))
    status, refused = post_flow(
        warden.public_url, "login", flow.id, {"method": "webauthn", "webauthn_login": wrong}, token
    )
    assert (status, message_ids(refused)) == (400, [4000008])  # Kratos's NewWebAuthnVerifierWrongError
    options = json.loads(
        next(n for n in refused["ui"]["nodes"] if n["attributes"].get("name") == "webauthn_login_trigger")[
            "attributes"
        ]["value"]
    )
    good = json.dumps(key.get(options))
    status, done = post_flow(warden.public_url, "login", flow.id, {"method": "webauthn", "webauthn_login": good}, token)
    assert status == 200, done
    assert done["session"]["authenticator_assurance_level"] == "aal2"
    methods = [(m["method"], m["aal"]) for m in done["session"]["authentication_methods"]]
    assert methods == [("password", "aal1"), ("webauthn", "aal2")]
    # From this aal2 session the last key may go.
    flow = frontend.create_native_settings_flow(x_session_token=token)
    status, removed = post_flow(
        warden.public_url, "settings", flow.id, {"webauthn_remove": key.credential_id.hex()}, token
    )
    assert status == 200, removed
    assert not [n for n in removed["ui"]["nodes"] if n["attributes"].get("name") == "webauthn_remove"]


def test_passwordless_sign_in_after_the_identifier(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    if not warden.passwordless:  # type: ignore[attr-defined]
        flow = frontend.create_native_login_flow()
        status, answer = post_flow(
            warden.public_url, "login", flow.id, {"method": "webauthn", "identifier": "x@example.com"}
        )
        assert (status, message_ids(answer)) == (400, [4010002])  # no such method at aal1
        return
    email = f"key-{uuid.uuid4().hex[:8]}@example.com"
    identity_id = create_identity(warden.admin_url, email)
    key, _ = _add_key(warden, frontend, _password_login(frontend, email), "Green key")
    flow = frontend.create_native_login_flow()
    assert node(flow, "identifier")["attributes"]["autocomplete"] == "username webauthn"
    submit = next(
        n for n in as_dict(flow)["ui"]["nodes"] if n["group"] == "webauthn" and n["attributes"]["name"] == "method"
    )
    assert submit["meta"]["label"]["id"] == 1010008  # Kratos: "Sign in with hardware key"
    status, step = post_flow(warden.public_url, "login", flow.id, {"method": "webauthn", "identifier": email})
    assert status == 400 and message_ids(step) == [1010012]  # "Prepare your WebAuthn device"
    trigger = next(n for n in step["ui"]["nodes"] if n["attributes"].get("name") == "webauthn_login_trigger")
    assert trigger["meta"]["label"]["id"] == 1010013  # Kratos labels this step's button "Continue"
    options = json.loads(
        next(n for n in step["ui"]["nodes"] if n["attributes"].get("name") == "webauthn_login_trigger")["attributes"][
            "value"
        ]
    )
    body = {"method": "webauthn", "identifier": email, "webauthn_login": json.dumps(key.get(options))}
    status, done = post_flow(warden.public_url, "login", flow.id, body)
    assert status == 200, done
    assert done["session"]["identity"]["id"] == identity_id
    assert done["session"]["authenticator_assurance_level"] == "aal1"
    flow = frontend.create_native_login_flow()
    status, unknown = post_flow(
        warden.public_url, "login", flow.id, {"method": "webauthn", "identifier": "nobody@example.com"}
    )
    assert (status, message_ids(unknown)) == (400, [4000015])


def test_the_last_passwordless_key_is_not_offered_for_removal(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    """As Kratos: an identity whose one way in is a passwordless key gets no remove button for it,
    and removing it anyway answers 400 with 4000001 on the `webauthn_remove` node."""
    if not warden.passwordless:  # type: ignore[attr-defined]
        return  # a second-factor key is never the way in
    key, email = SoftAuthenticator(ORIGIN), f"key-{uuid.uuid4().hex[:8]}@example.com"
    stored = {
        "id": b64url(key.credential_id),
        "public_key": b64url(key.cose_public_key()),
        "attestation_type": "none",
        "authenticator": {"aaguid": b64url(bytes(16)), "sign_count": 0, "clone_warning": False},
        "display_name": "Only key",
        "is_passwordless": True,
    }
    body = {
        "schema_id": "default",
        "traits": {"email": email},
        "credentials": {"webauthn": {"config": {"credentials": [stored], "user_handle": b64url(b"handle")}}},
    }
    created = urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=body)
    assert created.status == 201, created.data
    flow = frontend.create_native_login_flow()
    _, step = post_flow(warden.public_url, "login", flow.id, {"method": "webauthn", "identifier": email})
    options = json.loads(node(step, "webauthn_login_trigger")["attributes"]["value"])
    login = {"method": "webauthn", "identifier": email, "webauthn_login": json.dumps(key.get(options))}
    status, done = post_flow(warden.public_url, "login", flow.id, login)
    assert status == 200, done
    token = done["session_token"]
    flow = frontend.create_native_settings_flow(x_session_token=token)
    assert "webauthn_remove" not in [n["attributes"].get("name") for n in as_dict(flow)["ui"]["nodes"]]
    status, refused = post_flow(
        warden.public_url, "settings", flow.id, {"webauthn_remove": key.credential_id.hex()}, token
    )
    assert status == 400, refused
    lock_out = "unable to remove this security key because it would lock you out of your account"
    assert [(m["id"], m["text"]) for m in node(refused, "webauthn_remove")["messages"]] == [(4000001, lock_out)]


def test_sign_up_with_a_security_key_when_passwordless(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    """Kratos's webauthn registration: with `passwordless: true` the sign-up form carries the traits
    and a key (name, trigger, result), and the key then signs in alone; without it, nothing."""
    flow = frontend.create_native_registration_flow()
    names = [n["attributes"].get("name") for n in as_dict(flow)["ui"]["nodes"]]
    if not warden.passwordless:  # type: ignore[attr-defined]
        assert not {"webauthn_register_trigger", "webauthn_register"} & set(names)
        return
    trigger = node(flow, "webauthn_register_trigger")
    assert (trigger["meta"]["label"]["id"], trigger["attributes"]["onclickTrigger"]) == (
        1040004,
        "oryWebAuthnRegistration",
    )
    assert node(flow, "webauthn_register_displayname")["meta"]["label"]["id"] == 1050013
    assert node(flow, "webauthn_register")["attributes"]["type"] == "hidden"
    options = json.loads(trigger["attributes"]["value"])
    assert options["publicKey"]["authenticatorSelection"]["residentKey"] == "required"
    assert options["publicKey"]["timeout"] == 120_000
    key, email = SoftAuthenticator(ORIGIN), f"key-{uuid.uuid4().hex[:8]}@example.com"
    body = {
        "method": "webauthn",
        "traits": {"email": email},
        "webauthn_register": json.dumps(key.create(options)),
        "webauthn_register_displayname": "Red key",
    }
    status, done = post_flow(warden.public_url, "registration", flow.id, body)
    assert status == 200, done
    identity_id = done["identity"]["id"]
    url = f"{warden.admin_url}/admin/identities/{identity_id}"
    stored = json.loads(urllib3.request("GET", url, fields={"include_credential": "webauthn"}).data)
    credential = stored["credentials"]["webauthn"]
    assert credential["identifiers"] == [email]
    assert [(k["display_name"], k["is_passwordless"]) for k in credential["config"]["credentials"]] == [
        ("Red key", True)
    ]
    login = frontend.create_native_login_flow()
    _, step = post_flow(warden.public_url, "login", login.id, {"method": "webauthn", "identifier": email})
    assertion = json.dumps(key.get(json.loads(node(step, "webauthn_login_trigger")["attributes"]["value"])))
    answer = {"method": "webauthn", "identifier": email, "webauthn_login": assertion}
    status, signed_in = post_flow(warden.public_url, "login", login.id, answer)
    assert status == 200 and signed_in["session"]["identity"]["id"] == identity_id


def test_a_sign_up_with_refused_traits_keeps_the_key_name(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    """Traits the schema refuses answer the passwordless sign-up form as a refused key does: with a
    new challenge (the answer spent the one shown) and the name typed for the key kept."""
    if not warden.passwordless:  # type: ignore[attr-defined]
        return
    flow = frontend.create_native_registration_flow()
    options = _options(flow, "webauthn_register_trigger")
    body = {
        "method": "webauthn",
        "traits": {"email": "no address"},
        "webauthn_register": json.dumps(SoftAuthenticator(ORIGIN).create(options)),
        "webauthn_register_displayname": "Red key",
    }
    status, refused = post_flow(warden.public_url, "registration", flow.id, body)
    assert status == 400, refused
    assert node(refused, "traits.email")["messages"], refused
    assert node(refused, "webauthn_register_displayname")["attributes"]["value"] == "Red key"
    renewed = _options(refused, "webauthn_register_trigger")["publicKey"]["challenge"]
    assert renewed != options["publicKey"]["challenge"]


def test_a_browser_is_sent_back_to_the_login_ui_for_the_key(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    """Kratos's passwordless first step in a browser flow: the flow is saved with only the key's
    form (the identifier hidden, message 1010012) and a SPA gets 422 `browser_location_change_required`
    pointing at the login UI, where the key then answers."""
    if not warden.passwordless:  # type: ignore[attr-defined]
        return
    email = f"key-{uuid.uuid4().hex[:8]}@example.com"
    create_identity(warden.admin_url, email)
    key, _ = _add_key(warden, frontend, _password_login(frontend, email), "Spa key")
    spa = Browser(warden.public_url, json=True)
    flow = spa.get("/self-service/login/browser").json()
    csrf = node(flow, "csrf_token")["attributes"]["value"]
    answer = spa.post(
        f"/self-service/login?flow={flow['id']}", {"method": "webauthn", "identifier": email, "csrf_token": csrf}
    )
    assert answer.status == 422, answer
    assert answer.json()["error"]["id"] == "browser_location_change_required"
    assert answer.json()["redirect_browser_to"].endswith(f"/login?flow={flow['id']}")
    shown = spa.get(f"/self-service/login/flows?id={flow['id']}").json()
    assert message_ids(shown) == [1010012]
    assert {n["attributes"].get("name") for n in shown["ui"]["nodes"]} == {
        "csrf_token",
        "identifier",
        "webauthn_login_trigger",
        "webauthn_login",
        "method",
        None,
    }  # None: the script
    assert node(shown, "identifier")["attributes"]["type"] == "hidden"
    options = json.loads(node(shown, "webauthn_login_trigger")["attributes"]["value"])
    body = {
        "method": "webauthn",
        "identifier": email,
        "webauthn_login": json.dumps(key.get(options)),
        "csrf_token": csrf,
    }
    done = spa.post(f"/self-service/login?flow={flow['id']}", body)
    assert done.status == 200, done


@pytest.mark.parametrize("client", ["api", "spa", "browser"])
def test_a_refused_key_in_settings_gets_a_new_challenge(
    warden: ThreadedWarden, frontend: FrontendApi, client: str
) -> None:
    """The answer to the options spends their challenge, right or wrong. A refused key answered the
    settings form with the spent challenge still in its options, so every retry on that flow was
    refused too (4000006) until a new flow: the form now carries a new challenge, as registration's
    does, and a key answering it is added."""
    email = f"key-{uuid.uuid4().hex[:8]}@example.com"
    create_identity(warden.admin_url, email)
    settings = SettingsClient(warden.public_url, email, client)
    key, spent = SoftAuthenticator(ORIGIN), _options(settings.flow, "webauthn_register_trigger")
    wrong = json.dumps(key.create(spent, origin="https://evil.test"))
    status = settings.submit(
        {"method": "webauthn", "webauthn_register": wrong, "webauthn_register_displayname": "Mine"}
    )
    assert (status, message_ids(settings.flow)) == (settings.refused, [4000006]), settings.flow
    trigger = node(settings.flow, "webauthn_register_trigger")["attributes"]
    renewed = json.loads(trigger["value"])
    assert renewed["publicKey"]["challenge"] != spent["publicKey"]["challenge"]
    assert trigger["onclick"] == f"window.oryWebAuthnRegistration({trigger['value']})"
    assert renewed["publicKey"]["user"]["id"] == spent["publicKey"]["user"]["id"]  # the same user handle
    assert node(settings.flow, "webauthn_register_displayname")["attributes"]["value"] == "Mine"
    body = {"method": "webauthn", "webauthn_register": json.dumps(key.create(renewed))}
    assert settings.submit({**body, "webauthn_register_displayname": "Mine"}) == 200, settings.flow
    assert settings.flow["state"] == "success"
    removes = [n for n in settings.flow["ui"]["nodes"] if n["attributes"].get("name") == "webauthn_remove"]
    assert [n["attributes"]["value"] for n in removes] == [key.credential_id.hex()]


def _stored(key: SoftAuthenticator, name: str, passwordless: bool) -> dict[str, Any]:
    """A key as Kratos stores (and an admin imports) it."""
    return {
        "id": b64url(key.credential_id),
        "public_key": b64url(key.cose_public_key()),
        "attestation_type": "none",
        "authenticator": {"aaguid": b64url(bytes(16)), "sign_count": 0, "clone_warning": False},
        "display_name": name,
        "is_passwordless": passwordless,
    }


def test_a_key_signs_in_only_as_what_it_was_registered_for(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    """Kratos's `ToWebAuthnFiltered`: with `passwordless: false` the second step takes only keys that
    are not passwordless; with `passwordless: true` the first factor takes only passwordless ones.
    The other key is refused as any wrong key is (4000008), and the right one then signs in on the
    same flow. The identity is imported with one key of each kind."""
    alone, second = SoftAuthenticator(ORIGIN), SoftAuthenticator(ORIGIN)
    email = f"key-{uuid.uuid4().hex[:8]}@example.com"
    keys = [_stored(alone, "Passwordless key", True), _stored(second, "Second-factor key", False)]
    body = {
        "schema_id": "default",
        "traits": {"email": email},
        "credentials": {
            "password": {"config": {"password": PASSWORD}},
            "webauthn": {"config": {"credentials": keys, "user_handle": b64url(b"handle-" + uuid.uuid4().bytes)}},
        },
    }
    created = urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=body)
    assert created.status == 201, created.data
    if warden.passwordless:  # type: ignore[attr-defined]
        token, right, wrong, aal = None, alone, second, "aal1"
        flow = frontend.create_native_login_flow()
        _, step = post_flow(warden.public_url, "login", flow.id, {"method": "webauthn", "identifier": email})
        base = {"method": "webauthn", "identifier": email}
    else:
        token, right, wrong, aal = _password_login(frontend, email), second, alone, "aal2"
        flow = frontend.create_native_login_flow(aal="aal2", x_session_token=token)
        step, base = as_dict(flow), {"method": "webauthn"}
    options = _options(step, "webauthn_login_trigger")
    assert [c["id"] for c in options["publicKey"]["allowCredentials"]] == [b64url(right.credential_id)]
    # A client that answers with the other key anyway (it ignores allowCredentials).
    status, refused = post_flow(
        warden.public_url, "login", flow.id, {**base, "webauthn_login": json.dumps(wrong.get(options))}, token
    )
    assert (status, message_ids(refused)) == (400, [4000008]), refused
    options = _options(refused, "webauthn_login_trigger")
    status, done = post_flow(
        warden.public_url, "login", flow.id, {**base, "webauthn_login": json.dumps(right.get(options))}, token
    )
    assert status == 200, done
    assert done["session"]["authenticator_assurance_level"] == aal


def _imported_with_keys(warden: ThreadedWarden, email: str, *keys: tuple[SoftAuthenticator, bool]) -> str:
    stored = [
        {
            "id": b64url(key.credential_id),
            "public_key": b64url(key.cose_public_key()),
            "attestation_type": "none",
            "authenticator": {"aaguid": b64url(bytes(16)), "sign_count": 0, "clone_warning": False},
            "display_name": "key",
            "is_passwordless": passwordless,
        }
        for key, passwordless in keys
    ]
    credentials = {
        "password": {"config": {"password": PASSWORD}},
        "webauthn": {"config": {"credentials": stored, "user_handle": b64url(uuid.uuid4().bytes)}},
    }
    body = {"schema_id": "default", "traits": {"email": email}, "credentials": credentials}
    created = urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=body)
    assert created.status == 201, created.data
    return str(json.loads(created.data)["id"])


def test_a_refresh_asks_for_the_passwordless_keys_in_either_mode(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    """Kratos's `PopulateLoginMethodFirstFactorRefresh` (webauthn/login.go): a refresh (aal1) offers
    the session's identity its passwordless keys (`ToWebAuthnFiltered(aal1)`) with its identifier
    hidden, and takes the answer as a passwordless sign-in (`IsRefresh() && aal1`) whatever
    `passwordless` says. Warden showed nothing, and without `passwordless` refused the key (4010002).
    A second-factor key is not offered and does not refresh."""
    email = f"refresh-{uuid.uuid4().hex[:8]}@example.com"
    passwordless, second = SoftAuthenticator(ORIGIN), SoftAuthenticator(ORIGIN)
    identity_id = _imported_with_keys(warden, email, (passwordless, True), (second, False))
    token = _password_login(frontend, email)
    flow = frontend.create_native_login_flow(refresh=True, x_session_token=token)
    trigger = node(flow, "webauthn_login_trigger")
    assert trigger["meta"]["label"]["id"] == 1010008  # Kratos's NewInfoSelfServiceLoginWebAuthn
    options = json.loads(trigger["attributes"]["value"])
    assert [c["id"] for c in options["publicKey"]["allowCredentials"]] == [b64url(passwordless.credential_id)]
    assert node(flow, "identifier")["attributes"]["type"] == "hidden"
    assert node(flow, "identifier")["attributes"]["value"] == email

    def answer(key: SoftAuthenticator, options: dict[str, Any]) -> tuple[int, Any]:
        body = {"method": "webauthn", "webauthn_login": json.dumps(key.get(options)), "identifier": email}
        status, answered = post_flow(warden.public_url, "login", flow.id, body, token)
        return status, answered

    status, refused = answer(second, options)
    assert (status, message_ids(refused)) == (400, [4000008]), refused
    status, done = answer(passwordless, _options(refused, "webauthn_login_trigger"))
    assert status == 200, done
    assert done["session"]["identity"]["id"] == identity_id
    methods = [(m["method"], m["aal"]) for m in done["session"]["authentication_methods"]]
    assert methods == [("password", "aal1"), ("webauthn", "aal1")]
    # An identity with second-factor keys alone gets no security key form on a refresh.
    other = f"refresh-mfa-{uuid.uuid4().hex[:8]}@example.com"
    _imported_with_keys(warden, other, (SoftAuthenticator(ORIGIN), False))
    flow = frontend.create_native_login_flow(refresh=True, x_session_token=_password_login(frontend, other))
    assert not [n for n in as_dict(flow)["ui"]["nodes"] if n["attributes"].get("name") == "webauthn_login_trigger"]
