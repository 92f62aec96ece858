"""The password migration hook (`selfservice.methods.password.config.migrate_hook`) through native
password logins, with a real HTTP server on loopback as the legacy system: an identity imported with
`use_password_migration_hook` signs in once by the legacy system's word, and from then on by the
hash Warden stored, without asking it again. A wrong password is refused as any wrong password is;
a hook that is down, slow or broken fails the login with Kratos's 502/504 and leaves the identity
awaiting the hook; the attempts are throttled as hash checks are."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from services.identity.throttle import FREE_FAILURES
from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import ERROR_UI, Browser, message_ids, node, query_param, selfservice_settings
from tests.webhook_receiver import Answer, Received, WebhookReceiver

EMAIL, LEGACY_PASSWORD = "ada@legacy.example", "Analytical-Engine-1843"
API_KEY = {"type": "api_key", "config": {"name": "X-Legacy-Key", "value": "legacy-secret", "in": "header"}}
UNREACHABLE = "A third-party upstream service could not be reached. Please try again later."
IMPROPER = "A third-party upstream service responded improperly. Please try again later."
# How the legacy system answers, by the password typed; the right one gets Kratos's match.
ANSWERS: dict[str, Answer] = {
    LEGACY_PASSWORD: (200, {"status": "password_match"}, {}),
    "Forbidden-Guess": (403, None, {}),
    "Other-Status": (200, {"status": "password_mismatch"}, {}),
    "Not-An-Object": (200, "password_match", {}),
    # Kratos decodes the first KiB of the answer: a match that runs past it is not read as one.
    "Padded-Match": (200, {"padding": "x" * 1100, "status": "password_match"}, {}),
    "Server-Error": (500, {"error": "legacy is broken"}, {}),
}
WRONG = ["Forbidden-Guess", "Other-Status", "Not-An-Object", "Padded-Match"]


def legacy_answer(request: Received) -> Answer:
    return ANSWERS.get(request.json()["password"], (200, {"status": "password_mismatch"}, {}))


@pytest.fixture
def legacy() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(answer=legacy_answer).start()
    yield receiver
    receiver.close()


def hook_settings(
    directory: Path, dsn: str, hook: dict[str, Any] | None, *, oidc: dict[str, Any] | None = None, **top: Any
) -> Any:
    password = {"enabled": True, "config": {"migrate_hook": hook}} if hook else {"enabled": True}
    methods = {"password": password, **({"oidc": oidc} if oidc else {})}
    return selfservice_settings(directory, dsn, methods=methods, **top)


def enabled_hook(legacy: WebhookReceiver) -> dict[str, Any]:
    config = {"url": legacy.url("/legacy/verify"), "headers": {"X-Legacy-Tenant": "warden"}, "auth": API_KEY}
    return {"enabled": True, "config": config}


@pytest.fixture
def warden(tmp_path: Path, legacy: WebhookReceiver) -> Iterator[ThreadedWarden]:
    settings = hook_settings(tmp_path, f"sqlite://{tmp_path}/warden.sqlite", enabled_hook(legacy))
    with running_warden(settings) as running:
        yield running


def import_awaiting_hook(warden: ThreadedWarden, email: str = EMAIL) -> str:
    body = {
        "schema_id": "default",
        "traits": {"email": email},
        "credentials": {"password": {"config": {"use_password_migration_hook": True}}},
    }
    response = urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=body)
    assert response.status == 201, response.data
    return str(json.loads(response.data)["id"])


def password_config(warden: ThreadedWarden, identity_id: str) -> dict[str, Any]:
    url = f"{warden.admin_url}/admin/identities/{identity_id}?include_credential=password"
    config: dict[str, Any] = json.loads(urllib3.request("GET", url).data)["credentials"]["password"]["config"]
    return config


def login(warden: ThreadedWarden, identifier: str, password: str) -> urllib3.BaseHTTPResponse:
    flow = json.loads(urllib3.request("GET", f"{warden.public_url}/self-service/login/api").data)
    return urllib3.request(
        "POST",
        f"{warden.public_url}/self-service/login?flow={flow['id']}",
        json={"method": "password", "identifier": identifier, "password": password},
    )


def error_of(response: urllib3.BaseHTTPResponse) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(response.data)["error"]
    return error


def test_the_legacy_system_vouches_once_then_warden_checks_the_hash_it_stored(
    tmp_path: Path, any_dsn: str, legacy: WebhookReceiver
) -> None:
    with running_warden(hook_settings(tmp_path, any_dsn, enabled_hook(legacy))) as warden:
        identity_id = import_awaiting_hook(warden)
        assert password_config(warden, identity_id) == {"use_password_migration_hook": True}

        signed_in = login(warden, EMAIL, LEGACY_PASSWORD)
        assert signed_in.status == 200, signed_in.data
        assert json.loads(signed_in.data)["session"]["identity"]["id"] == identity_id
        [call] = legacy.requests()
        assert (call.method, call.path) == ("POST", "/legacy/verify")
        assert call.json() == {"identifier": EMAIL, "password": LEGACY_PASSWORD}
        assert call.headers["Content-Type"] == "application/json"
        assert (call.headers["X-Legacy-Tenant"], call.headers["X-Legacy-Key"]) == ("warden", "legacy-secret")
        assert password_config(warden, identity_id) == {}, "the flag is gone (and the new hash is never shown)"

        legacy.stop()  # the legacy system is switched off: Warden's own hash is all there is now
        again = login(warden, EMAIL, LEGACY_PASSWORD)
        assert again.status == 200, again.data
        assert json.loads(again.data)["session"]["identity"]["id"] == identity_id
        assert message_ids(json.loads(login(warden, EMAIL, "Forbidden-Guess").data)) == [4000006]
        assert len(legacy.requests()) == 1, "the hook is asked once per identity, ever"


def test_a_wrong_password_is_refused_as_any_wrong_password_is(warden: ThreadedWarden, legacy: WebhookReceiver) -> None:
    identity_id = import_awaiting_hook(warden)
    unknown = login(warden, "nobody@legacy.example", "Forbidden-Guess")
    assert unknown.status == 400 and message_ids(json.loads(unknown.data)) == [4000006]
    shown = json.loads(unknown.data)["ui"]["messages"]
    for wrong in WRONG:
        refused = login(warden, EMAIL, wrong)
        assert refused.status == 400, (wrong, refused.data)
        assert json.loads(refused.data)["ui"]["messages"] == shown, wrong
    assert [r.json()["password"] for r in legacy.requests()] == WRONG, "an unknown identifier asks no one"
    assert password_config(warden, identity_id) == {"use_password_migration_hook": True}
    assert login(warden, EMAIL, LEGACY_PASSWORD).status == 200


def test_a_hook_that_is_down_fails_the_login_clearly_and_keeps_the_identity_waiting(
    warden: ThreadedWarden, legacy: WebhookReceiver
) -> None:
    identity_id = import_awaiting_hook(warden)
    legacy.stop()
    for _ in range(FREE_FAILURES + 2):  # an outage costs the owner no throttle count: nobody checked
        down = login(warden, EMAIL, LEGACY_PASSWORD)
        assert down.status == 502, down.data
        assert error_of(down) == {
            "code": 502,
            "status": "Bad Gateway",
            "reason": UNREACHABLE,
            "message": "calling the password migration hook failed",
            "request": error_of(down)["request"],
        }
    assert password_config(warden, identity_id) == {"use_password_migration_hook": True}
    browser = Browser(warden.public_url)  # a browser is sent to the error page, which says why
    started = browser.get("/self-service/login/browser")
    flow = browser.get(f"/self-service/login/flows?id={query_param(started.location, 'flow')}", as_json=True).json()
    form = {"method": "password", "identifier": EMAIL, "password": LEGACY_PASSWORD}
    failed = browser.post(flow["ui"]["action"], {**form, "csrf_token": node(flow, "csrf_token")["attributes"]["value"]})
    assert failed.status == 303 and failed.location.startswith(f"{ERROR_UI}?id="), failed
    shown = browser.get(f"/self-service/errors?id={query_param(failed.location, 'id')}", as_json=True).json()
    assert (shown["error"]["code"], shown["error"]["reason"]) == (502, UNREACHABLE)

    legacy.start()
    assert login(warden, EMAIL, LEGACY_PASSWORD).status == 200
    assert password_config(warden, identity_id) == {}


def test_a_broken_hook_answers_502_and_each_attempt_is_counted(warden: ThreadedWarden, legacy: WebhookReceiver) -> None:
    import_awaiting_hook(warden)
    for _ in range(FREE_FAILURES + 1):
        broken = login(warden, EMAIL, "Server-Error")
        assert broken.status == 502
        assert (error_of(broken)["reason"], error_of(broken)["message"]) == (
            IMPROPER,
            "password migration hook failed with status code 500",
        )
    # The legacy system was asked each time, so each time counts: past the free failures the next
    # check waits, the right password too, and the hook is not asked meanwhile.
    assert login(warden, EMAIL, LEGACY_PASSWORD).status == 429
    assert len(legacy.requests()) == FREE_FAILURES + 1


def test_migration_attempts_are_throttled_as_hash_checks_are(warden: ThreadedWarden, legacy: WebhookReceiver) -> None:
    identity_id = import_awaiting_hook(warden)
    for _ in range(FREE_FAILURES + 1):
        assert login(warden, EMAIL, "Other-Status").status == 400
    blocked = login(warden, EMAIL, LEGACY_PASSWORD)
    assert blocked.status == 429
    assert message_ids(json.loads(blocked.data)) == [4290001]
    assert len(legacy.requests()) == FREE_FAILURES + 1, "a refused attempt does not reach the legacy system"
    time.sleep(1.2)  # the first block is 1 s
    assert login(warden, EMAIL, LEGACY_PASSWORD).status == 200
    assert password_config(warden, identity_id) == {}


def test_a_hook_too_slow_for_webhooks_timeout_answers_504(tmp_path: Path, legacy: WebhookReceiver) -> None:
    legacy.delay = lambda _request: 3.0
    settings = hook_settings(
        tmp_path, f"sqlite://{tmp_path}/warden.sqlite", enabled_hook(legacy), webhooks={"timeout": "500ms"}
    )
    with running_warden(settings) as warden:
        identity_id = import_awaiting_hook(warden)
        slow = login(warden, EMAIL, LEGACY_PASSWORD)
        assert slow.status == 504, slow.data
        assert (error_of(slow)["status"], error_of(slow)["reason"]) == ("Gateway Timeout", UNREACHABLE)
        assert password_config(warden, identity_id) == {"use_password_migration_hook": True}


def test_without_the_hook_an_identity_awaiting_it_cannot_sign_in_and_nothing_tells_it_apart(
    tmp_path: Path, legacy: WebhookReceiver
) -> None:
    """Kratos answers 500 here; Warden answers as for a wrong password (and logs why): the answer
    must not tell an account awaiting migration from an unknown identifier."""
    with running_warden(hook_settings(tmp_path, f"sqlite://{tmp_path}/warden.sqlite", None)) as warden:
        import_awaiting_hook(warden)
        refused = login(warden, EMAIL, LEGACY_PASSWORD)
        unknown = login(warden, "nobody@legacy.example", LEGACY_PASSWORD)
        assert (refused.status, unknown.status) == (400, 400)
        assert json.loads(refused.data)["ui"]["messages"] == json.loads(unknown.data)["ui"]["messages"]
    assert legacy.requests() == []


def test_the_hook_is_called_through_the_egress_guard(tmp_path: Path, legacy: WebhookReceiver) -> None:
    settings = hook_settings(
        tmp_path,
        f"sqlite://{tmp_path}/warden.sqlite",
        enabled_hook(legacy),
        clients={"http": {"disallow_private_ip_ranges": True}},
    )
    with running_warden(settings) as warden:
        import_awaiting_hook(warden)
        refused = login(warden, EMAIL, LEGACY_PASSWORD)
        assert refused.status == 502 and error_of(refused)["reason"] == UNREACHABLE
    assert legacy.requests() == [], "a loopback address is not called while private ranges are refused"


def test_while_the_hook_is_on_a_password_awaiting_it_is_a_way_into_the_account(
    tmp_path: Path, legacy: WebhookReceiver
) -> None:
    """As Kratos counts it (`CountActiveFirstFactorCredentials`): the account's other way in may be
    removed, and a registration colliding with the account hears that it signs in with a password."""
    mapper = "base64://" + base64.b64encode(b"{identity: {traits: {}}}").decode()
    github = {"id": "github", "provider": "github", "client_id": "id", "client_secret": "secret", "mapper_url": mapper}
    settings = hook_settings(
        tmp_path,
        f"sqlite://{tmp_path}/warden.sqlite",
        enabled_hook(legacy),
        oidc={"enabled": True, "config": {"providers": [github]}},
        flows={"registration": {"login_hints": True}},
    )
    with running_warden(settings) as warden:
        imported = {
            "schema_id": "default",
            "traits": {"email": EMAIL},
            "credentials": {
                "password": {"config": {"use_password_migration_hook": True}},
                "oidc": {"config": {"providers": [{"provider": "github", "subject": "1843"}]}},
            },
        }
        created = urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=imported)
        assert created.status == 201, created.data
        identity_id = created.json()["id"]

        flow = urllib3.request("GET", f"{warden.public_url}/self-service/registration/api").json()
        body = {"method": "password", "traits": {"email": EMAIL}, "password": "Quartz-Lantern-Nimbus-4817"}
        action = f"{warden.public_url}/self-service/registration?flow={flow['id']}"
        collided = urllib3.request("POST", action, json=body)
        assert collided.status == 400, collided.data
        [hint] = collided.json()["ui"]["messages"]
        assert hint["id"] == 4000028
        assert "password" in hint["context"]["available_credential_types"]
        credential = f"{warden.admin_url}/admin/identities/{identity_id}/credentials/oidc?identifier=github:1843"
        removed = urllib3.request("DELETE", credential)  # the password is left: no lockout
        assert removed.status == 204, removed.data
        assert password_config(warden, identity_id) == {"use_password_migration_hook": True}


# `config.body`: a Jsonnet template given Kratos's `ctx` (`identifier`, `password`), as web hooks'.
RESHAPED = "function(ctx) {user: ctx.identifier, secret: ctx.password, source: 'warden'}"


def with_body(legacy: WebhookReceiver, body: str) -> dict[str, Any]:
    hook = enabled_hook(legacy)
    return {**hook, "config": {**hook["config"], "body": body}}


def base64_url(template: str) -> str:
    return "base64://" + base64.b64encode(template.encode()).decode()


def test_a_body_template_reshapes_what_the_legacy_system_is_sent(tmp_path: Path) -> None:
    def answer(request: Received) -> Answer:
        body = request.json()
        matches = body.get("user") == EMAIL and body.get("secret") == LEGACY_PASSWORD
        return (200, {"status": "password_match"}, {}) if matches else (403, None, {})

    receiver = WebhookReceiver(answer=answer).start()
    template = tmp_path / "legacy-body.jsonnet"
    template.write_text(RESHAPED)
    try:
        settings = hook_settings(tmp_path, f"sqlite://{tmp_path}/w.sqlite", with_body(receiver, f"file://{template}"))
        with running_warden(settings) as warden:
            identity_id = import_awaiting_hook(warden)
            assert login(warden, EMAIL, "Forbidden-Guess").status == 400
            signed_in = login(warden, EMAIL, LEGACY_PASSWORD)
            assert signed_in.status == 200, signed_in.data
            assert json.loads(signed_in.data)["session"]["identity"]["id"] == identity_id
            assert password_config(warden, identity_id) == {}
        [_, call] = receiver.requests()
        assert call.json() == {"user": EMAIL, "secret": LEGACY_PASSWORD, "source": "warden"}
        assert call.headers["Content-Type"] == "application/json"
        assert call.headers["X-Legacy-Key"] == "legacy-secret"
    finally:
        receiver.close()


def test_a_body_template_that_does_not_parse_stops_start_up_naming_the_key(
    tmp_path: Path, legacy: WebhookReceiver
) -> None:
    from shared.errors import ConfigError

    hook = with_body(legacy, base64_url("function(ctx) {user: ctx.identifier"))
    settings = hook_settings(tmp_path, f"sqlite://{tmp_path}/w.sqlite", hook)
    with pytest.raises(ConfigError) as stopped:
        with running_warden(settings):
            pass
    line = str(stopped.value)
    assert line.startswith(
        "config: selfservice.methods.password.config.migrate_hook.config.body: the Jsonnet body does not parse"
    )
    assert "\n" not in line
    assert legacy.requests() == []


@pytest.mark.parametrize(
    ("template", "logged"),
    [
        ("function(ctx) {user: ctx.identifier, secret: error 'refused ' + ctx.password}", "may hold the password"),
        ("function(ctx) {user: ctx.identifier, flow: ctx.flow.id}", "Field does not exist: flow"),
    ],
)
def test_a_body_template_that_fails_at_login_fails_it_cleanly_and_logs_no_password(
    tmp_path: Path, legacy: WebhookReceiver, caplog: pytest.LogCaptureFixture, template: str, logged: str
) -> None:
    """As Kratos's request builder fails: a 500, nothing sent, the identity still waiting. The
    flow and the request's headers, which Kratos also gives the template, are not given here."""
    settings = hook_settings(tmp_path, f"sqlite://{tmp_path}/w.sqlite", with_body(legacy, base64_url(template)))
    with running_warden(settings) as warden:
        identity_id = import_awaiting_hook(warden)
        for _ in range(FREE_FAILURES + 1):  # nothing was tried: the attempts are not counted
            failed = login(warden, EMAIL, LEGACY_PASSWORD)
            assert failed.status == 500, failed.data
            assert error_of(failed)["message"] == "the password migration hook's body template failed"
        assert password_config(warden, identity_id) == {"use_password_migration_hook": True}
    assert legacy.requests() == []
    assert any(logged in r.getMessage() for r in caplog.records)
    assert not [r.getMessage() for r in caplog.records if LEGACY_PASSWORD in r.getMessage()]
