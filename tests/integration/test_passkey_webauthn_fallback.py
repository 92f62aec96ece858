"""Kratos's passkey sign-in falls back to security keys (`passkey_login.go`, `loginAuthenticate`):
when no passkey credential has the assertion's user handle, the identity whose `webauthn`
credential has it (`FindIdentityByWebauthnUserHandle`) signs in with one of those keys flagged
passwordless (`PasswordlessOnly`). So accounts moved from Kratos, whose passwordless keys were kept
under `webauthn`, sign in with the passkey button. A second-factor key never does, nor a key of
another identity; a handle no one has stays Kratos's 4000015. On SQLite and PostgreSQL, whose
queries of the stored config differ."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import database, message_ids, node, selfservice_settings
from tests.webauthn_authenticator import SoftAuthenticator, b64url, post_flow

RP_ID, ORIGIN = "warden.test", "https://warden.test"
RP = {"id": RP_ID, "origins": [ORIGIN], "display_name": "Warden Tests"}
METHODS = {"password": {"enabled": True}, "passkey": {"enabled": True, "config": {"rp": RP}}}
NOT_VERIFIED, NO_SUCH_USER = 4000008, 4000015


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def warden(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp(f"passkey-fallback-{request.param}")
    with (
        database(request.param, directory) as dsn,
        running_warden(selfservice_settings(directory, dsn, methods=METHODS)) as w,
    ):
        yield w


def _stored(key: SoftAuthenticator, **flags: Any) -> dict[str, Any]:
    return {
        "id": b64url(key.credential_id),
        "public_key": b64url(key.cose_public_key()),
        "attestation_type": "none",
        "authenticator": {"aaguid": b64url(bytes(16)), "sign_count": 0, "clone_warning": False},
        "display_name": "key",
        **flags,
    }


def _import(warden: ThreadedWarden, handle_text: str, *keys: dict[str, Any]) -> str:
    """An identity with a password and security keys under `webauthn` (as Kratos exports them)."""
    credentials = {
        "password": {"config": {"password": f"pw-{uuid.uuid4().hex}"}},
        "webauthn": {"config": {"credentials": list(keys), "user_handle": handle_text}},
    }
    email = f"fallback-{uuid.uuid4().hex[:10]}@example.com"
    body = {"schema_id": "default", "traits": {"email": email}, "credentials": credentials}
    created = urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=body)
    assert created.status == 201, created.data
    return str(json.loads(created.data)["id"])


def _passkey_login(warden: ThreadedWarden, key: SoftAuthenticator) -> tuple[int, dict[str, Any]]:
    flow = json.loads(urllib3.request("GET", f"{warden.public_url}/self-service/login/api").data)
    options = json.loads(node(flow, "passkey_challenge")["attributes"]["value"])
    assertion = json.dumps(key.get(options))
    status, answer = post_flow(
        warden.public_url, "login", flow["id"], {"method": "passkey", "passkey_login": assertion}
    )
    return status, answer


def _webauthn_keys(warden: ThreadedWarden, identity_id: str) -> list[dict[str, Any]]:
    url = f"{warden.admin_url}/admin/identities/{identity_id}"
    answer = json.loads(urllib3.request("GET", url, fields={"include_credential": "webauthn"}).data)
    return list(answer["credentials"]["webauthn"]["config"]["credentials"])


@pytest.mark.parametrize("spelling", ["kratos", "warden"])
def test_a_passwordless_security_key_signs_in_with_the_passkey_button(warden: ThreadedWarden, spelling: str) -> None:
    """The handle as Kratos's JSON keeps it (standard base64) and as Warden writes it (base64url)."""
    key = SoftAuthenticator(ORIGIN)
    key.user_handle = bytes(range(250, 256)) + uuid.uuid4().bytes  # its base64 forms differ: + / and - _
    text = base64.b64encode(key.user_handle).decode() if spelling == "kratos" else b64url(key.user_handle)
    identity_id = _import(warden, text, _stored(key, is_passwordless=True))
    status, answer = _passkey_login(warden, key)
    assert status == 200, answer
    session = answer["session"]
    assert session["identity"]["id"] == identity_id
    assert [(m["method"], m["aal"]) for m in session["authentication_methods"]] == [("passkey", "aal1")]
    assert session["authenticator_assurance_level"] == "aal1"
    assert [k["authenticator"]["sign_count"] for k in _webauthn_keys(warden, identity_id)] == [1]
    stranger = SoftAuthenticator(ORIGIN)  # a handle no identity has: Kratos's NewNoWebAuthnCredentials
    stranger.user_handle = uuid.uuid4().hex.encode()
    status, answer = _passkey_login(warden, stranger)
    assert (status, message_ids(answer)) == (400, [NO_SUCH_USER]), answer


@pytest.mark.parametrize("flags", [{"is_passwordless": False}, {}], ids=["second-factor", "unflagged"])
def test_a_second_factor_security_key_never_signs_in_alone(warden: ThreadedWarden, flags: dict[str, Any]) -> None:
    """Only keys flagged passwordless: the identity's second factor is refused as any wrong key
    (4000008) even though the handle names its owner, and its passwordless key still signs in."""
    second, passwordless = SoftAuthenticator(ORIGIN), SoftAuthenticator(ORIGIN)
    second.user_handle = passwordless.user_handle = uuid.uuid4().hex.encode()
    text = base64.b64encode(second.user_handle).decode()
    identity_id = _import(warden, text, _stored(second, **flags), _stored(passwordless, is_passwordless=True))
    status, answer = _passkey_login(warden, second)
    assert (status, message_ids(answer)) == (400, [NOT_VERIFIED]), answer
    assert "session" not in answer
    status, answer = _passkey_login(warden, passwordless)
    assert status == 200 and answer["session"]["identity"]["id"] == identity_id, answer


def test_a_key_signs_in_only_to_the_identity_whose_handle_it_carries(warden: ThreadedWarden) -> None:
    """An assertion naming someone else's handle with one's own key: the key is not among that
    identity's keys, so nothing is verified against another account's key (4000008)."""
    victim, attacker = SoftAuthenticator(ORIGIN), SoftAuthenticator(ORIGIN)
    victim.user_handle, attacker.user_handle = uuid.uuid4().hex.encode(), uuid.uuid4().hex.encode()
    _import(warden, base64.b64encode(victim.user_handle).decode(), _stored(victim, is_passwordless=True))
    _import(warden, base64.b64encode(attacker.user_handle).decode(), _stored(attacker, is_passwordless=True))
    attacker.user_handle = victim.user_handle
    status, answer = _passkey_login(warden, attacker)
    assert (status, message_ids(answer)) == (400, [NOT_VERIFIED]), answer


def test_the_lookup_of_a_security_keys_user_handle_can_use_an_index(warden: ThreadedWarden) -> None:
    """Anyone may send any user handle to the passkey login, and each handle no passkey holds is
    looked up among the security keys: that lookup must be able to use identity_0009's index rather
    than read and parse the config of every security-key credential of every account."""
    from sqlalchemy import MetaData, text

    from services.identity.persistence import webauthn_handle_owner
    from services.identity.tables import identity_tables

    credentials = identity_tables(MetaData()).credentials

    async def plan() -> str:
        [database] = warden.process._databases.all()
        async with database.transaction() as conn:
            sqlite = conn.dialect.name == "sqlite"
            query = webauthn_handle_owner(credentials, conn.dialect.name, ["aGFuZGxl", "aGFuZGxl=="])
            sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            if not sqlite:  # a table this small is read whole when it may be; may it not be?
                await conn.execute(text("SET LOCAL enable_seqscan = off"))
            rows = (await conn.execute(text(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + sql))).all()
        return "\n".join(str(row[-1]) for row in rows)

    shown = warden.run(plan())
    assert "ix_identity_credentials_webauthn_user_handle" in shown, shown
