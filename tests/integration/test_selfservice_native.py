"""Native (API) self-service flows through Kratos's own SDK (`FrontendApi`), on SQLite and
PostgreSQL: registration, password login, refresh, logout, expiry, events.

One Warden per database serves the module (a fresh database per module, as STYLE §11 says);
every test uses identities of its own. A second Warden per database (`other_config`) serves the
tests that need another config."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import bcrypt
import ory_kratos_client as kratos
import pytest
import urllib3
import yaml
from ory_kratos_client.api.frontend_api import FrontendApi
from ory_kratos_client.api.identity_api import IdentityApi

from shared.bus.envelope import Envelope
from shared.bus.ports import Subscription
from shared.config import load_settings
from tests.conftest import eventually, unique
from tests.factories import ThreadedWarden, running_warden, write_config
from tests.selfservice_helpers import (
    INTERNAL_TOKEN,
    PASSWORD,
    UI,
    api_error,
    as_dict,
    database,
    message_ids,
    node,
    node_names,
    selfservice_extra,
    selfservice_settings,
    sqlite_selfservice_settings,
)

MIN_PASSWORD_LENGTH = 12
BREACHED = "1qaz2wsx3edc"  # in the shipped breached list, 12 characters


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def warden(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("native")
    methods = {"password": {"enabled": True, "config": {"min_password_length": MIN_PASSWORD_LENGTH}}}
    with (
        database(request.param, directory) as dsn,
        running_warden(selfservice_settings(directory, dsn, methods=methods)) as running,
    ):
        yield running


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def other_config(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FrontendApi]:
    """A second Warden: no `session` hook after registration, and login flows that live one second."""
    directory = tmp_path_factory.mktemp("native-other")
    with (
        database(request.param, directory) as dsn,
        running_warden(
            selfservice_settings(directory, dsn, session_hook=False, flows={"login": {"lifespan": "1s"}})
        ) as warden,
        kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as client,
    ):
        yield FrontendApi(client)


@pytest.fixture(scope="module")
def frontend(warden: ThreadedWarden) -> Iterator[FrontendApi]:
    with kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as client:
        yield FrontendApi(client)


@pytest.fixture(scope="module")
def admin(warden: ThreadedWarden) -> Iterator[IdentityApi]:
    with kratos.ApiClient(kratos.Configuration(host=warden.admin_url)) as client:
        yield IdentityApi(client)


def _email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _registration(traits: dict[str, Any], password: str = PASSWORD) -> kratos.UpdateRegistrationFlowBody:
    return kratos.UpdateRegistrationFlowBody(
        kratos.UpdateRegistrationFlowWithPasswordMethod(method="password", password=password, traits=traits)
    )


def _login(identifier: str, password: str = PASSWORD) -> kratos.UpdateLoginFlowBody:
    return kratos.UpdateLoginFlowBody(
        kratos.UpdateLoginFlowWithPasswordMethod(method="password", identifier=identifier, password=password)
    )


def _register(frontend: FrontendApi, email: str, password: str = PASSWORD) -> Any:
    flow = frontend.create_native_registration_flow()
    return frontend.update_registration_flow(flow.id, _registration({"email": email}, password))


def _refused_registration(frontend: FrontendApi, traits: dict[str, Any], password: str = PASSWORD) -> dict[str, Any]:
    flow = frontend.create_native_registration_flow()
    status, body = api_error(lambda: frontend.update_registration_flow(flow.id, _registration(traits, password)))
    assert status == 400, body
    return body


def _refused_login(frontend: FrontendApi, identifier: str, password: str) -> dict[str, Any]:
    flow = frontend.create_native_login_flow()
    status, body = api_error(lambda: frontend.update_login_flow(flow.id, _login(identifier, password)))
    assert status == 400, body
    return body


# --- registration ------------------------------------------------------------------------------


def test_registration_flow_shows_the_schema_traits_and_the_password_method(frontend: FrontendApi) -> None:
    flow = as_dict(frontend.create_native_registration_flow())
    assert flow["type"] == "api" and flow["state"] == "choose_method"
    assert flow["ui"]["method"] == "POST" and flow["ui"]["action"].endswith(
        f"/self-service/registration?flow={flow['id']}"
    )
    assert "csrf_token" not in node_names(flow), "API flows carry no CSRF token"
    email = node(flow, "traits.email")
    assert email["attributes"]["type"] == "email" and email["attributes"]["required"] is True
    assert email["meta"]["label"]["id"] == 1070002 and email["meta"]["label"]["text"] == "E-Mail"
    assert node(flow, "traits.name.first")["meta"] == {}, "no title in the schema: no label, as in Kratos"
    password = node(flow, "password")
    assert password["attributes"]["type"] == "password" and password["group"] == "password"
    assert "value" not in password["attributes"] or not password["attributes"]["value"]
    submit = node(flow, "method")
    assert (submit["attributes"]["type"], submit["attributes"]["value"]) == ("submit", "password")


def test_registration_with_the_session_hook_signs_in(frontend: FrontendApi) -> None:
    email = _email("signup")
    done = _register(frontend, email)
    assert done.identity.traits == {"email": email} and done.identity.credentials is None
    assert done.session is not None and done.session.identity.id == done.identity.id
    assert done.session_token and done.session_token.startswith("ory_st_")
    [follow] = [as_dict(c) for c in done.continue_with]
    assert follow == {"action": "set_ory_session_token", "ory_session_token": done.session_token}
    whoami = frontend.to_session(x_session_token=done.session_token)
    assert whoami.id == done.session.id and whoami.identity.id == done.identity.id


def test_registration_without_the_session_hook_creates_the_identity_only(other_config: FrontendApi) -> None:
    email = _email("nohook")
    done = _register(other_config, email)
    assert done.identity.traits == {"email": email}
    assert done.session is None and done.session_token is None and not done.continue_with
    login = other_config.update_login_flow(other_config.create_native_login_flow().id, _login(email))
    assert login.session.identity.id == done.identity.id, "the identity can sign in afterwards"


def test_the_legacy_one_step_key_wins_over_the_registration_style(tmp_path: Path) -> None:
    """Kratos: `enable_legacy_one_step: true` means one step whatever `style` says (with a warning
    that the key is deprecated): the traits and the password on one form, no profile step."""
    flows = {"registration": {"style": "profile_first", "enable_legacy_one_step": True}}
    with (
        running_warden(sqlite_selfservice_settings(tmp_path, flows=flows)) as warden,
        kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as client,
    ):
        frontend = FrontendApi(client)
        flow = frontend.create_native_registration_flow()
        assert node(flow, "password")["group"] == "password"
        assert [
            n["attributes"]["value"] for n in as_dict(flow)["ui"]["nodes"] if n["attributes"]["name"] == "method"
        ] == ["password"]
        email = _email("one-step")
        assert _register(frontend, email).identity.traits == {"email": email}


def test_an_identifier_without_a_title_is_labelled_id(tmp_path: Path) -> None:
    """Kratos's `GetIdentifierLabelFromSchema` takes only a non-empty title; a schema whose identifier
    has none (the `username` schema's) gets "ID" (1070004), never the trait's path."""
    with (
        running_warden(sqlite_selfservice_settings(tmp_path, identity={"default_schema_id": "username"})) as warden,
        kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as client,
    ):
        flow = FrontendApi(client).create_native_login_flow()
        assert node(flow, "identifier")["meta"]["label"] == {"id": 1070004, "text": "ID", "type": "info"}


def test_under_argon2_a_long_password_is_taken_whole(tmp_path: Path) -> None:
    # ASVS 6.2.9: 64 characters at least. 64 Cyrillic letters are 128 bytes: the policy refused them
    # (4000033) as if the hasher were bcrypt, whose 72 bytes Kratos's config schema defaults to.
    password = "пароль-" * 9 + "abcdefgh"
    assert len(password) == 71 and len(password.encode()) > 72
    path = write_config(tmp_path, f"sqlite://{tmp_path}/warden.sqlite", selfservice_extra())
    config = yaml.safe_load(path.read_text())
    # No `algorithm`: the default. Cheap argon2 parameters, which --dev allows.
    config["hashers"] = {"argon2": {"memory": "64KB", "iterations": 1, "parallelism": 1}}
    path.write_text(yaml.safe_dump(config))
    with (
        running_warden(load_settings([path], {}, dev=True)) as warden,
        kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as client,
    ):
        frontend, email = FrontendApi(client), _email("long")
        assert _register(frontend, email, password).identity.traits == {"email": email}
        login = frontend.update_login_flow(frontend.create_native_login_flow().id, _login(email, password))
        assert login.session.identity.traits == {"email": email}
        prefix = password.encode()[:72].decode(errors="ignore")
        body = _refused_login(frontend, email, prefix)
        assert message_ids(body) == [4000006], "checked whole, not cut at 72 bytes"


def test_duplicate_registration_is_refused_with_4000007(frontend: FrontendApi) -> None:
    email = _email("dup")
    _register(frontend, email)
    body = _refused_registration(frontend, {"email": email.upper()})
    assert message_ids(body) == [4000007]
    assert node(body, "traits.email")["attributes"]["value"] == email.upper(), "the traits are kept for the user to fix"


def test_a_signed_in_app_cannot_register_a_second_account(frontend: FrontendApi) -> None:
    """Kratos's registration submit is for the signed-out only: with a session token it answers 400
    session_already_available and creates nothing."""
    token = _register(frontend, _email("first")).session_token
    other = _email("second")
    flow = frontend.create_native_registration_flow()
    status, body = api_error(
        lambda: frontend.update_registration_flow(
            flow.id, _registration({"email": other}), _headers={"X-Session-Token": token}
        )
    )
    assert status == 400 and body["error"]["id"] == "session_already_available", body
    assert body["error"]["reason"] == "A valid session was detected and thus registration is not possible."
    done = frontend.update_registration_flow(flow.id, _registration({"email": other}))
    assert done.identity.traits == {"email": other}, "nothing was created, and the flow is still open"


def test_weak_passwords_are_refused_with_kratos_messages(frontend: FrontendApi) -> None:
    email = _email("weak")
    body = _refused_registration(frontend, {"email": email}, "short-pw")
    [message] = node(body, "password")["messages"]
    assert message["id"] == 4000032
    assert message["context"]["min_length"] == MIN_PASSWORD_LENGTH and message["context"]["actual_length"] == 8

    body = _refused_registration(frontend, {"email": email}, BREACHED)
    assert message_ids(body, "password") == [4000034]

    body = _refused_registration(frontend, {"email": email}, "qwertyuiopasdf")  # in no list: a run of keys
    [message] = node(body, "password")["messages"]
    assert message["id"] == 4000005 and "run of keys" in message["context"]["reason"], message

    body = _refused_registration(frontend, {"email": email}, email + "1")
    assert message_ids(body, "password") == [4000031]
    for refused in (body, _refused_registration(frontend, {"email": email}, BREACHED)):
        assert not node(refused, "password")["attributes"].get("value")
        assert BREACHED not in json.dumps(refused) and email + "1" not in json.dumps(refused)
    assert frontend.update_registration_flow(  # the flow is not spent by a refusal
        body["id"], _registration({"email": email})
    ).identity.traits == {"email": email}


def test_invalid_email_trait_is_reported_on_its_node(frontend: FrontendApi) -> None:
    body = _refused_registration(frontend, {"email": "not-an-email"})
    messages = node(body, "traits.email")["messages"]
    assert messages and all(m["type"] == "error" for m in messages)
    assert not message_ids(body)


# --- login -------------------------------------------------------------------------------------


def test_login_by_identifier_ignores_case_and_whitespace(frontend: FrontendApi) -> None:
    email = _email("login")
    identity_id = _register(frontend, email).identity.id
    flow = frontend.create_native_login_flow()
    assert as_dict(flow)["type"] == "api" and {"identifier", "password", "method"} <= set(node_names(flow))
    done = frontend.update_login_flow(flow.id, _login(f"  {email.upper()} "))
    assert done.session_token.startswith("ory_st_")
    assert done.session.identity.id == identity_id and done.session.active
    assert [m.method for m in done.session.authentication_methods] == ["password"]
    assert frontend.to_session(x_session_token=done.session_token).id == done.session.id


def test_wrong_password_and_unknown_identifier_answer_the_same(frontend: FrontendApi) -> None:
    email = _email("same")
    _register(frontend, email)
    wrong = _refused_login(frontend, email, PASSWORD + "x")
    unknown = _refused_login(frontend, _email("nobody"), PASSWORD)
    assert message_ids(wrong) == message_ids(unknown) == [4000006]
    assert wrong["ui"]["messages"] == unknown["ui"]["messages"]
    assert _shape(wrong) == _shape(unknown)
    assert PASSWORD not in json.dumps(wrong) + json.dumps(unknown)


def _shape(flow: dict[str, Any]) -> Any:
    """The body without what differs by nature: ids, times, URLs with ids, the typed identifier."""
    skip = {"id", "expires_at", "issued_at", "created_at", "updated_at", "action", "value"}

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in skip}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(flow)


def test_missing_identifier_and_password_are_4000002_on_their_nodes(frontend: FrontendApi) -> None:
    body = _refused_login(frontend, "", "")
    assert message_ids(body, "identifier") == [4000002] and message_ids(body, "password") == [4000002]
    assert node(body, "identifier")["messages"][0]["context"] == {"property": "identifier"}
    body = _refused_login(frontend, _email("half"), "")
    assert message_ids(body, "identifier") == [] and message_ids(body, "password") == [4000002]


def test_a_completed_flow_cannot_be_submitted_again(frontend: FrontendApi) -> None:
    email = _email("again")
    _register(frontend, email)
    flow = frontend.create_native_login_flow()
    frontend.update_login_flow(flow.id, _login(email))
    status, body = api_error(lambda: frontend.update_login_flow(flow.id, _login(email)))
    assert status == 400 and message_ids(body) == [4010007]


def test_get_login_flow_returns_api_flows_and_404_for_unknown_ids(frontend: FrontendApi) -> None:
    flow = frontend.create_native_login_flow()
    fetched = frontend.get_login_flow(flow.id)
    assert fetched.id == flow.id and fetched.type == "api" and node_names(fetched) == node_names(flow)
    status, body = api_error(lambda: frontend.get_login_flow(str(uuid.uuid4())))
    assert status == 404 and body["error"]["code"] == 404
    status, _ = api_error(lambda: frontend.get_registration_flow(flow.id))
    assert status == 404, "a login flow is not a registration flow"


def test_an_api_flow_refuses_submissions_that_look_like_a_browser(
    warden: ThreadedWarden, frontend: FrontendApi
) -> None:
    """Kratos's `flow.EnsureCSRF` for API flows: a submission with an `Origin` header or any cookie
    (Cloudflare's `__cf*`/`_cf*`/`cf_*` excepted) is 400 (`ErrOriginHeaderNeedsBrowserFlow`,
    `ErrCookieHeaderNeedsBrowserFlow`), so a web page cannot drive a native flow from a browser."""
    email = _email("origin")
    _register(frontend, email)
    body = {"method": "password", "identifier": email, "password": PASSWORD}
    for headers in ({"Origin": "https://attacker.example"}, {"Cookie": "cookie=ory"}):
        flow = frontend.create_native_login_flow()
        answer = urllib3.request(
            "POST", f"{warden.public_url}/self-service/login?flow={flow.id}", json=body, headers=headers
        )
        assert answer.status == 400, (headers, answer.data[:200])
        assert "session_token" not in json.loads(answer.data)
    cloudflare = urllib3.request(
        "POST",
        f"{warden.public_url}/self-service/login?flow={frontend.create_native_login_flow().id}",
        json=body,
        headers={"Cookie": "__cflb=0pg1RtZzPoPDprTf8gX3TJm8XF5hKZ4pZV74UCe7"},
    )
    assert cloudflare.status == 200 and json.loads(cloudflare.data)["session_token"]


# --- sessions: already signed in, refresh, logout ----------------------------------------------


def test_a_valid_session_token_without_refresh_is_session_already_available(
    warden: ThreadedWarden, frontend: FrontendApi
) -> None:
    token = _register(frontend, _email("already")).session_token
    status, body = api_error(lambda: frontend.create_native_login_flow(x_session_token=token))
    assert status == 400 and body["error"]["id"] == "session_already_available"
    assert body["error"]["reason"] == (
        "A valid session was detected and thus login is not possible. Did you forget to set `?refresh=true`?"
    )
    assert body["error"]["message"] == "you are already logged in"  # Kratos's ErrAlreadyLoggedIn
    # This SDK's create_native_registration_flow takes no X-Session-Token; Kratos reads it all the same.
    response = urllib3.request(
        "GET", f"{warden.public_url}/self-service/registration/api", headers={"X-Session-Token": token}
    )
    error = json.loads(response.data)["error"]
    assert response.status == 400 and error["id"] == "session_already_available"
    assert error["reason"] == "A valid session was detected and thus registration is not possible."


def test_submitting_a_login_flow_with_a_valid_session_is_session_already_available(frontend: FrontendApi) -> None:
    """Kratos's `updateLoginFlow` looks for a session first: unless the flow refreshes or raises the
    AAL, an API or JSON submission that carries one is refused with 400 session_already_available."""
    email = _email("resubmit")
    token = _register(frontend, email).session_token
    flow = frontend.create_native_login_flow()
    status, body = api_error(lambda: frontend.update_login_flow(flow.id, _login(email), x_session_token=token))
    assert status == 400 and body["error"]["id"] == "session_already_available"


def test_refresh_reauthenticates_the_same_session(frontend: FrontendApi) -> None:
    email = _email("refresh")
    signed_up = _register(frontend, email)
    token, session = signed_up.session_token, signed_up.session
    time.sleep(0.05)
    flow = frontend.create_native_login_flow(refresh=True, x_session_token=token)
    assert flow.refresh is True and 1010003 in message_ids(flow)
    done = frontend.update_login_flow(flow.id, _login(email), x_session_token=token)
    assert done.session.id == session.id and done.session.identity.id == signed_up.identity.id
    assert done.session.authenticated_at > session.authenticated_at
    whoami = frontend.to_session(x_session_token=token)
    assert whoami.id == session.id and whoami.authenticated_at == done.session.authenticated_at


def test_a_refresh_without_a_session_is_a_plain_login(frontend: FrontendApi) -> None:
    """Kratos's `NewLoginFlow` sets `refresh` to false when the request carries no session: there is
    nothing to refresh, so the flow is an ordinary sign-in, without "Please confirm this action"
    (1010003), which UIs show as a re-authentication screen."""
    email = _email("refresh-nobody")
    identity_id = _register(frontend, email).identity.id
    flow = frontend.create_native_login_flow(refresh=True)
    assert flow.refresh is False and message_ids(flow) == []
    assert node(flow, "identifier")["attributes"]["type"] == "text"
    done = frontend.update_login_flow(flow.id, _login(email))
    assert done.session.identity.id == identity_id


def test_a_refresh_answers_with_the_session_token_as_kratos_does(frontend: FrontendApi) -> None:
    """Kratos's `PostLoginHook` answers API flows with `{session, session_token: s.Token}`; on a
    refresh `s` is the session the request carried, so its token comes back. Native apps store the
    `session_token` of every successful login (Ory's React Native sample does), so an answer
    without it signs them out."""
    email = _email("refresh-token")
    token = _register(frontend, email).session_token
    flow = frontend.create_native_login_flow(refresh=True, x_session_token=token)
    done = frontend.update_login_flow(flow.id, _login(email), x_session_token=token)
    assert done.session_token == token


def test_refresh_by_another_identity_fails(frontend: FrontendApi) -> None:
    mine, other = _email("owner"), _email("intruder")
    token = _register(frontend, mine).session_token
    _register(frontend, other)
    before = frontend.to_session(x_session_token=token)
    flow = frontend.create_native_login_flow(refresh=True, x_session_token=token)
    status, body = api_error(lambda: frontend.update_login_flow(flow.id, _login(other), x_session_token=token))
    assert status == 400 and message_ids(body) == [4000006]
    after = frontend.to_session(x_session_token=token)
    assert after.identity.traits["email"] == mine and after.authenticated_at == before.authenticated_at


def test_native_logout_revokes_the_token(frontend: FrontendApi) -> None:
    token = _register(frontend, _email("bye")).session_token
    assert frontend.to_session(x_session_token=token).active
    answer = frontend.perform_native_logout_with_http_info(kratos.PerformNativeLogoutBody(session_token=token))
    assert answer.status_code == 204
    status, body = api_error(lambda: frontend.to_session(x_session_token=token))
    assert status == 401 and body["error"]["id"] == "session_inactive"
    # Kratos: a token of an ended session logs out again (204); one of no session is a 403.
    again = frontend.perform_native_logout_with_http_info(kratos.PerformNativeLogoutBody(session_token=token))
    assert again.status_code == 204
    unknown = kratos.PerformNativeLogoutBody(session_token="ory_st_" + "0" * 32)
    status, body = api_error(lambda: frontend.perform_native_logout(unknown))
    assert status == 403, body
    assert body["error"]["reason"] == (
        "The provided Ory Session Token could not be found, is invalid, or otherwise malformed."
    ), body


def test_native_logout_reads_a_json_body_and_refuses_an_empty_token(warden: ThreadedWarden) -> None:
    """Kratos decodes the body as JSON alone (400 otherwise, an empty body too); the token it holds,
    missing or empty, names no session: 403, as an unknown one."""
    url = f"{warden.public_url}/self-service/logout/api"
    for body in ({}, {"session_token": ""}, {"session_token": None}):
        answer = urllib3.request("DELETE", url, json=body)
        assert answer.status == 403, (body, answer.data)
    form = urllib3.request(
        "DELETE", url, body=b"session_token=ory_st_x", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert form.status == 400, form.data
    assert urllib3.request("DELETE", url).status == 400
    assert urllib3.request("DELETE", url, json={"session_token": 7}).status == 400


def test_a_settings_flow_is_its_own_identitys_alone(frontend: FrontendApi, admin: IdentityApi) -> None:
    # ASVS 8.2.2: knowing another user's settings flow id lets you neither read nor submit it.
    victim, attacker = _register(frontend, _email("victim")), _register(frontend, _email("attacker"))
    flow = frontend.create_native_settings_flow(x_session_token=victim.session_token)
    status, read = api_error(lambda: frontend.get_settings_flow(flow.id, x_session_token=attacker.session_token))
    assert status == 403 and read["error"]["id"] == "security_identity_mismatch", read
    change = kratos.UpdateSettingsFlowBody(
        kratos.UpdateSettingsFlowWithProfileMethod(method="profile", traits={"email": _email("taken")})
    )
    status, submitted = api_error(
        lambda: frontend.update_settings_flow(flow.id, change, x_session_token=attacker.session_token)
    )
    assert status == 403 and submitted["error"]["id"] == "security_identity_mismatch", submitted
    assert admin.get_identity(victim.identity.id).traits == victim.identity.traits, "nothing changed"


def test_password_fields_tell_password_managers_what_they_are(frontend: FrontendApi) -> None:
    # ASVS 6.2.7 (paste and password managers allowed): the login asks for the current password, the
    # registration and settings for a new one.
    login = as_dict(frontend.create_native_login_flow())
    registration = as_dict(frontend.create_native_registration_flow())
    token = _register(frontend, _email("autocomplete")).session_token
    settings = as_dict(frontend.create_native_settings_flow(x_session_token=token))
    assert node(login, "password")["attributes"]["autocomplete"] == "current-password"
    assert node(registration, "password")["attributes"]["autocomplete"] == "new-password"
    assert node(settings, "password")["attributes"]["autocomplete"] == "new-password"


# --- expiry ------------------------------------------------------------------------------------


def _expire(frontend: FrontendApi, email: str) -> tuple[str, dict[str, Any]]:
    flow = frontend.create_native_login_flow()
    time.sleep(1.1)
    status, body = api_error(lambda: frontend.update_login_flow(flow.id, _login(email)))
    assert status == 410, body
    return flow.id, body


def test_an_expired_flow_answers_410_with_a_new_flow_to_use(other_config: FrontendApi) -> None:
    email = _email("late")
    identity_id = _register(other_config, email).identity.id
    expired_id, body = _expire(other_config, email)
    assert body["error"]["id"] == "self_service_flow_expired" and body["error"]["code"] == 410
    assert body["use_flow_id"] and body["use_flow_id"] != expired_id and body["expired_at"]
    status, _ = api_error(lambda: other_config.get_login_flow(expired_id))
    assert status == 410
    done = other_config.update_login_flow(body["use_flow_id"], _login(email))
    assert done.session.identity.id == identity_id


def test_the_flow_that_replaces_an_expired_one_is_complete(other_config: FrontendApi) -> None:
    """Kratos's login error handler answers an expired flow with `NewLoginFlow`: a whole new flow,
    with every method's nodes, carrying message 4010001 ("The login flow expired … ago")."""
    email = _email("late-nodes")
    _register(other_config, email)
    _, body = _expire(other_config, email)
    fresh = as_dict(other_config.get_login_flow(body["use_flow_id"]))
    assert fresh["type"] == "api" and fresh["refresh"] is False
    assert {"identifier", "password", "method"} <= set(node_names(fresh))
    assert message_ids(fresh) == [4010001]


def test_an_expired_refresh_is_renewed_as_the_submission_would_start_a_flow(other_config: FrontendApi) -> None:
    """Kratos's `FromOldFlow` makes the new flow from the submitting request: its query (no
    `refresh`, no `aal`) and its session, not the expired flow's `refresh` and `requested_aal`."""
    email = _email("late-refresh")
    _register(other_config, email)
    token = other_config.update_login_flow(other_config.create_native_login_flow().id, _login(email)).session_token
    without, with_session = (other_config.create_native_login_flow(refresh=True, x_session_token=token) for _ in "ab")
    assert without.refresh is True and with_session.refresh is True
    time.sleep(1.1)
    status, body = api_error(lambda: other_config.update_login_flow(without.id, _login(email)))
    assert status == 410, body
    fresh = as_dict(other_config.get_login_flow(body["use_flow_id"]))
    assert fresh["refresh"] is False and fresh["requested_aal"] == "aal1" and message_ids(fresh) == [4010001]
    status, body = api_error(
        lambda: other_config.update_login_flow(with_session.id, _login(email), x_session_token=token)
    )
    assert status == 400 and body["error"]["id"] == "session_already_available", body


# --- imported hashes ---------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["bcrypt", "pbkdf2"])
def test_an_imported_hash_signs_in_and_is_rehashed(
    scheme: str, warden: ThreadedWarden, frontend: FrontendApi, admin: IdentityApi
) -> None:
    email = _email(f"imported-{scheme}")
    created = admin.create_identity(
        kratos.CreateIdentityBody(
            schema_id="default",
            traits={"email": email},
            credentials=kratos.IdentityWithCredentials(
                password=kratos.IdentityWithCredentialsPassword(
                    config=kratos.IdentityWithCredentialsPasswordConfig(hashed_password=_foreign_hash(scheme))
                )
            ),
        )
    )
    imported = _stored_hash(warden, created.id)
    assert not imported.startswith("$2a$04$")
    done = frontend.update_login_flow(frontend.create_native_login_flow().id, _login(email))
    assert done.session.identity.id == created.id
    rehashed = _stored_hash(warden, created.id)
    assert rehashed.startswith("$2a$04$") and rehashed != imported  # the factory config: bcrypt, cost 4
    assert (
        frontend.update_login_flow(frontend.create_native_login_flow().id, _login(email)).session.identity.id
        == created.id
    )


def _foreign_hash(scheme: str) -> str:
    if scheme == "bcrypt":  # cost 5: not the configured kind, so it is re-hashed too
        return bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=5, prefix=b"2b")).decode()
    import base64

    salt = b"pepper&salt-0123"
    key = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt, 1000, 32)
    raw = lambda data: base64.b64encode(data).decode().rstrip("=")  # noqa: E731
    return f"$pbkdf2-sha256$i=1000,l=32${raw(salt)}${raw(key)}"


def _stored_hash(warden: ThreadedWarden, identity_id: str) -> str:
    response = urllib3.request(
        "GET",
        f"{warden.admin_url}/internal/identity/identities/{identity_id}/credentials/password",
        headers={"X-Warden-Internal-Token": INTERNAL_TOKEN},
    )
    assert response.status == 200, response.data
    return json.loads(response.data)["config"]["hashed_password"]


# --- events ------------------------------------------------------------------------------------


def test_flow_events_reach_the_bus_without_secrets_or_identifiers(
    warden: ThreadedWarden, frontend: FrontendApi
) -> None:
    received: list[Envelope] = []

    async def handle(envelope: Envelope) -> None:
        received.append(envelope)

    warden.run(warden.process.bus.subscribe(Subscription(unique("selfservice_events"), ("selfservice.#",), handle)))
    email = _email("events")
    registration = frontend.create_native_registration_flow()
    signed_up = frontend.update_registration_flow(registration.id, _registration({"email": email}))
    failed = [
        _refused_login(frontend, email, PASSWORD + "-wrong")["id"],
        _refused_login(frontend, "nobody-" + email, PASSWORD)["id"],
    ]
    login = frontend.create_native_login_flow()
    signed_in = frontend.update_login_flow(login.id, _login(email))
    mine = {registration.id, login.id, *failed}  # other tests' events may still be on their way

    def events() -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for envelope in received:
            if envelope.data.get("flow_id") in mine:
                found.setdefault(envelope.type, []).append(envelope.data)
        return found

    warden.run(eventually(lambda: sum(map(len, events().values())) >= 4))
    by_type = events()
    [registered] = by_type["selfservice.registration.succeeded"]
    assert registered["flow_id"] == registration.id and registered["identity_id"] == signed_up.identity.id
    assert registered["session_id"] == signed_up.session.id
    assert registered["method"] == "password" and registered["flow_type"] == "api"
    [succeeded] = by_type["selfservice.login.succeeded"]
    assert succeeded["flow_id"] == login.id and succeeded["identity_id"] == signed_in.session.identity.id
    assert succeeded["session_id"] == signed_in.session.id
    assert sorted(f["flow_id"] for f in by_type["selfservice.login.failed"]) == sorted(failed)
    assert all(f["method"] == "password" for f in by_type["selfservice.login.failed"])
    raw = json.dumps([e.to_dict() for e in received if e.data.get("flow_id") in mine]).lower()
    for secret in (PASSWORD.lower(), email.lower(), email.split("@")[0].lower(), signed_up.session_token.lower()):
        assert secret not in raw


def test_reading_an_expired_flow_says_where_to_start_a_new_one(other_config: FrontendApi) -> None:
    """Kratos's `getLoginFlow` on an expired flow: 410 with `details.api` (native) or
    `details.redirect_to` and `details.return_to` (browser); no new flow is made, so no `use_flow_id`."""
    base = other_config.api_client.configuration.host
    native = other_config.create_native_login_flow()
    return_to = f"{UI}/app/after"
    browser = urllib3.request(
        "GET",
        f"{base}/self-service/login/browser?{urlencode({'return_to': return_to})}",
        headers={"Accept": "application/json"},
        redirect=False,
    )
    assert browser.status == 200, browser.data
    cookie = "; ".join(c.split(";", 1)[0] for c in browser.headers.getlist("Set-Cookie"))
    time.sleep(1.1)
    status, body = api_error(lambda: other_config.get_login_flow(native.id))
    assert status == 410 and body["error"]["id"] == "self_service_flow_expired", body
    assert body["error"]["details"] == {"api": "http://127.0.0.1:4433/self-service/login/api"}, body
    assert "use_flow_id" not in body, body
    read = urllib3.request(
        "GET", f"{base}/self-service/login/flows?id={json.loads(browser.data)['id']}", headers={"Cookie": cookie}
    )
    answer = json.loads(read.data)
    assert read.status == 410 and answer["error"]["id"] == "self_service_flow_expired", answer
    assert answer["error"]["details"] == {
        "redirect_to": f"http://127.0.0.1:4433/self-service/login/browser?{urlencode({'return_to': return_to})}",
        "return_to": return_to,
    }, answer


def test_a_profile_change_shows_in_the_very_next_whoami(frontend: FrontendApi) -> None:
    """As with Kratos, whose whoami reads the identity: an app that shows the user's name from
    whoami right after the settings form must not show the old one, cached session or not."""
    before, after = _email("renamed"), _email("renamed")
    token = _register(frontend, before).session_token
    assert frontend.to_session(x_session_token=token).identity.traits["email"] == before  # cached now
    flow = frontend.create_native_settings_flow(x_session_token=token)
    change = kratos.UpdateSettingsFlowBody(
        kratos.UpdateSettingsFlowWithProfileMethod(method="profile", traits={"email": after})
    )
    frontend.update_settings_flow(flow.id, change, x_session_token=token)
    assert frontend.to_session(x_session_token=token).identity.traits["email"] == after
