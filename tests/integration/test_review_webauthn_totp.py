"""Findings of the review of security keys, passkeys and TOTP (the ceremonies, their inputs, and
how they meet the session's AAL), each driven over real HTTP against a Warden on PostgreSQL, as a
client or an attacker would drive it. test_review_second_factors.py holds the earlier review's."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import (
    SESSION_HOOK,
    api_password_login,
    create_identity,
    database,
    message_ids,
    node,
    selfservice_settings,
)
from tests.webauthn_authenticator import SoftAuthenticator, b64url, post_flow

CIPHER_SECRET = "0123456789abcdef0123456789abcdef"
RP = {"id": "warden.test", "origins": ["https://warden.test"], "display_name": "Warden Tests"}
ORIGIN = RP["origins"][0]
METHODS = {
    "password": {"enabled": True},
    "totp": {"enabled": True, "config": {"issuer": "Warden Tests"}},
    "lookup_secret": {"enabled": True},
    "webauthn": {"enabled": True, "config": {"rp": RP, "passwordless": False}},
    "passkey": {"enabled": True, "config": {"rp": RP}},
}
UNPARSABLE = 4000001  # Kratos's "Unable to parse WebAuthn response."


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("webauthn-totp")
    flows = {
        "settings": {"required_aal": "aal1"},
        "registration": {"after": {"passkey": {"hooks": SESSION_HOOK}}},
    }
    with database("postgres", directory) as dsn:
        settings = selfservice_settings(
            directory,
            dsn,
            methods=METHODS,
            flows=flows,
            session={"lifespan": "2h", "whoami": {"required_aal": "highest_available"}},
            secrets={"cookie": ["webauthn-totp-tests-cookie-0123456789"], "cipher": [CIPHER_SECRET]},
        )
        with running_warden(settings) as w:
            yield w


# --- helpers ---------------------------------------------------------------------------------------


def _email() -> str:
    return f"wt-{uuid.uuid4().hex[:10]}@example.com"


def _get(warden: ThreadedWarden, path: str, token: str | None = None, admin: bool = False) -> Any:
    base = warden.admin_url if admin else warden.public_url
    headers = {"Accept": "application/json", **({"X-Session-Token": token} if token else {})}
    return urllib3.request("GET", f"{base}{path}", headers=headers)


def _flow(warden: ThreadedWarden, kind: str, token: str | None = None, query: str = "") -> dict[str, Any]:
    answer = _get(warden, f"/self-service/{kind}/api{query}", token)
    assert answer.status == 200, answer.data
    return dict(answer.json())


def _options(flow: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(json.loads(node(flow, name)["attributes"]["value"]))


def _passkey_sign_up(warden: ThreadedWarden, key: SoftAuthenticator, email: str) -> dict[str, Any]:
    flow = _flow(warden, "registration")
    created = key.create(_options(flow, "passkey_create_data")["credentialOptions"])
    body = {"method": "passkey", "passkey_register": json.dumps(created), "traits": {"email": email}}
    status, answer = post_flow(warden.public_url, "registration", flow["id"], body)
    assert status == 200, answer
    return dict(answer)


# --- WebAuthn answers nested past any parser's depth ---------------------------------------------


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_a_deeply_nested_webauthn_answer_is_a_400(warden: ThreadedWarden) -> None:
    """The browser's answer is JSON in a form field, and its clientDataJSON is JSON again: nested a
    few thousand levels deep (a few kilobytes), either made the standard library's parser raise
    RecursionError, which nothing caught: a 500 for every method that takes a key, where Kratos
    answers "Unable to parse WebAuthn response." (400)."""
    key, email = SoftAuthenticator(ORIGIN), _email()
    _passkey_sign_up(warden, key, email)

    def deep_client_data(answer: dict[str, Any]) -> str:
        return json.dumps(
            {**answer, "response": {**answer["response"], "clientDataJSON": b64url(_nested(5000).encode())}}
        )

    for answer_of in (lambda options: _nested(5000), lambda options: deep_client_data(key.get(options))):
        flow = _flow(warden, "login")
        body = {"method": "passkey", "passkey_login": answer_of(_options(flow, "passkey_challenge"))}
        status, answer = post_flow(warden.public_url, "login", flow["id"], body)
        assert (status, message_ids(answer)) == (400, [UNPARSABLE]), (status, answer)
    # A new security key in settings: the attestation's clientDataJSON, nested as deep.
    email = _email()
    create_identity(warden.admin_url, email)
    token = api_password_login(warden.public_url, email)
    flow = _flow(warden, "settings", token)
    created = SoftAuthenticator(ORIGIN).create(_options(flow, "webauthn_register_trigger"))
    body = {"method": "webauthn", "webauthn_register": deep_client_data(created)}
    status, answer = post_flow(warden.public_url, "settings", flow["id"], body, token)
    assert (status, message_ids(answer)) == (400, [UNPARSABLE]), (status, answer)
