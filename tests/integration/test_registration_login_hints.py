"""`selfservice.flows.registration.login_hints`: a registration with an identifier an account already
holds says how that account signs in (Kratos's 4000028) instead of only that it exists (4000007),
through the real HTTP server on SQLite and PostgreSQL: password sign-ups from a browser form, a SPA
and a native app, and a social sign-up (panva's oidc-provider) sent to sign in to the account it
collided with (1010016). With `security.account_enumeration.mitigate`, no hints, ever."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden
from tests.integration.test_oidc import CALLBACK, CIPHER_SECRET, _provider, _to_provider
from tests.oidc.provider import ProviderUser, RunningProvider, openid_provider
from tests.selfservice_helpers import (
    PASSWORD,
    UI,
    Browser,
    Response,
    create_identity,
    database,
    node,
    selfservice_settings,
)

OTHER_PASSWORD = "Meadow-Copper-Falcon-2958"  # the registrant's: passes the policy, like PASSWORD
LOGIN_HINTS = {"login_hints": True}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def op() -> Iterator[RunningProvider]:
    with openid_provider([f"{CALLBACK}/op"]) as running:
        yield running


def _settings(directory: Any, dsn: str, op: RunningProvider, **extra: Any) -> Any:
    providers = [_provider("op", "generic", op, op.issuer, scope=["openid", "email", "profile"])]
    return selfservice_settings(
        directory,
        dsn,
        methods={"oidc": {"enabled": True, "config": {"providers": providers}}},
        flows={
            "registration": {
                **LOGIN_HINTS,
                "after": {"password": {"hooks": [{"hook": "session"}]}, "oidc": {"hooks": [{"hook": "session"}]}},
            }
        },
        secrets={"cookie": ["selfservice-tests-cookie-secret-0123456789"], "cipher": [CIPHER_SECRET]},
        **extra,
    )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def warden(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, op: RunningProvider
) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("login-hints")
    with database(request.param, directory) as dsn:
        with running_warden(_settings(directory, dsn, op)) as running:
            yield running


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _account(warden: ThreadedWarden, email: str, credentials: dict[str, Any]) -> str:
    created = urllib3.request(
        "POST",
        f"{warden.admin_url}/admin/identities",
        json={"schema_id": "default", "traits": {"email": email}, "credentials": credentials},
    )
    assert created.status == 201, created.data
    return str(created.json()["id"])


def _register(client: Browser, email: str, kind: str) -> Response:
    """A password registration in a fresh flow by a native app (`api`), a SPA or a browser form; a
    form's answer is its flow, fetched where the browser was sent."""
    flow = client.get(f"/self-service/registration/{'api' if kind == 'api' else 'browser'}")
    if kind == "form":
        flow = client.get(f"/self-service/registration/flows?id={_UUID.search(flow.location)[0]}", as_json=True)
    body: dict[str, Any] = {"method": "password", "traits.email": email, "password": OTHER_PASSWORD}
    if kind != "api":
        body["csrf_token"] = node(flow.json(), "csrf_token")["attributes"]["value"]
    if kind != "form":
        body = {**{k: v for k, v in body.items() if k != "traits.email"}, "traits": {"email": email}}
    answer = client.post(flow.json()["ui"]["action"], body, as_json=kind == "api" or None)
    if kind != "form":
        return answer
    assert answer.status == 303 and answer.location.startswith(f"{UI}/registration?flow="), answer
    return client.get(f"/self-service/registration/flows?id={_UUID.search(answer.location)[0]}", as_json=True)


def _messages(answer: Response) -> list[dict[str, Any]]:
    return list(answer.json()["ui"]["messages"])


@pytest.mark.parametrize("kind", ["form", "spa", "api"])
def test_a_taken_email_is_answered_with_how_its_account_signs_in(warden: ThreadedWarden, kind: str) -> None:
    taken = _email("taken")
    _account(
        warden,
        taken,
        {
            "password": {"config": {"password": PASSWORD}},
            "oidc": {
                "config": {
                    "providers": [{"provider": "op", "subject": taken}, {"provider": "google", "subject": taken}]
                }
            },
        },
    )
    answer = _register(Browser(warden.public_url, json=kind == "spa"), taken, kind)
    assert answer.status == (200 if kind == "form" else 400), answer
    [message] = _messages(answer)
    assert message["id"] == 4000028 and message["type"] == "error"
    assert message["text"] == (
        f"You tried signing in with {taken} which is already in use by another account. You can sign in "
        "using social sign in, or your password. You can sign in using one of the following social sign in "
        "providers: Google, Op."
    )
    assert message["context"] == {
        "available_credential_types": ["code", "oidc", "password"],
        "available_oidc_providers": ["google", "op"],
        "credential_identifier_hint": taken,
    }


def test_an_account_with_social_sign_in_only_is_not_said_to_have_a_password(warden: ThreadedWarden) -> None:
    taken = _email("social")
    _account(warden, taken, {"oidc": {"config": {"providers": [{"provider": "op", "subject": taken}]}}})
    [message] = _messages(_register(Browser(warden.public_url, json=True), taken, "spa"))
    assert message["context"]["available_credential_types"] == ["code", "oidc"]
    assert message["text"].endswith(
        "You can sign in using social sign in. You can sign in using one of the following social sign in providers: Op."
    )


def test_a_social_sign_up_sent_to_sign_in_first_is_offered_only_the_account_s_ways_in(
    warden: ThreadedWarden, op: RunningProvider
) -> None:
    login = f"linked-{uuid.uuid4().hex[:10]}"
    create_identity(warden.admin_url, f"{login}@example.com")  # a password, and no social sign-in
    browser = Browser(warden.public_url)
    back = browser.get(ProviderUser(op.issuer).sign_in(_to_provider(browser, "registration"), login))
    assert back.location.startswith(f"{UI}/login?flow="), back
    flow = browser.get(f"/self-service/login/flows?id={_UUID.search(back.location)[0]}", as_json=True).json()
    [message] = flow["ui"]["messages"]
    assert message["id"] == 1010016
    assert message["context"]["available_credential_types"] == ["code", "password"]
    assert message["context"]["available_providers"] == []
    groups = {n["group"] for n in flow["ui"]["nodes"]}
    assert "password" in groups and "oidc" not in groups, "no social sign-in button: the account has none"


def test_under_the_enumeration_mitigation_no_hints_are_given(
    tmp_path_factory: pytest.TempPathFactory, op: RunningProvider, caplog: pytest.LogCaptureFixture
) -> None:
    """Password registration keeps 4000007 here (a `session` hook after it: the mitigation cannot
    hide it), and still without hints: they would tell who types an address how its account signs in."""
    caplog.set_level(logging.WARNING, logger="services.selfservice")
    directory = tmp_path_factory.mktemp("login-hints-mitigated")
    with database("postgres", directory) as dsn:
        settings = _settings(directory, dsn, op, security={"account_enumeration": {"mitigate": True}})
        with running_warden(settings) as warden:
            [warning] = [r.getMessage() for r in caplog.records if "login_hints" in r.getMessage()]
            assert "selfservice.flows.registration.login_hints is not" in warning
            taken = _email("taken")
            create_identity(warden.admin_url, taken)
            answer = _register(Browser(warden.public_url, json=True), taken, "api")
            assert answer.status == 400, answer
            assert [(m["id"], m.get("context")) for m in _messages(answer)] == [(4000007, None)]
