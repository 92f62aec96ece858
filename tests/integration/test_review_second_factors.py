"""Findings of the review of the second factors (TOTP, backup codes, security keys) and how they
meet the session's AAL, each driven over real HTTP against a Warden on PostgreSQL, as a client or an
attacker would drive it. Settings here allow `required_aal: aal1` (an operator's choice Kratos
offers) so that the rules which must hold whatever the setting are tested where they matter."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyotp
import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import (
    PASSWORD,
    api_password_login,
    create_identity,
    database,
    message_ids,
    selfservice_settings,
)
from tests.webauthn_authenticator import SoftAuthenticator, b64url, post_flow

CIPHER_SECRET = "0123456789abcdef0123456789abcdef"
RP = {"id": "warden.test", "origin": "https://warden.test", "display_name": "Warden Tests"}
METHODS = {
    "password": {"enabled": True},
    "totp": {"enabled": True, "config": {"issuer": "Warden Tests"}},
    "lookup_secret": {"enabled": True},
    "webauthn": {"enabled": True, "config": {"rp": RP, "passwordless": False}},
}


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("second-factors")
    with database("postgres", directory) as dsn:
        settings = selfservice_settings(
            directory,
            dsn,
            methods=METHODS,
            flows={"settings": {"required_aal": "aal1"}},
            session={"lifespan": "2h", "whoami": {"required_aal": "highest_available"}},
            secrets={"cookie": ["second-factor-tests-cookie-0123456789"], "cipher": [CIPHER_SECRET]},
        )
        with running_warden(settings) as w:
            yield w


# --- helpers ---------------------------------------------------------------------------------------


def _email() -> str:
    return f"2fa-{uuid.uuid4().hex[:10]}@example.com"


def _get(warden: ThreadedWarden, path: str, token: str | None = None, admin: bool = False) -> Any:
    base = warden.admin_url if admin else warden.public_url
    headers = {"Accept": "application/json", **({"X-Session-Token": token} if token else {})}
    return urllib3.request("GET", f"{base}{path}", headers=headers)


def _password_login(warden: ThreadedWarden, email: str) -> str:
    return api_password_login(warden.public_url, email)


def _whoami(warden: ThreadedWarden, token: str) -> Any:
    return _get(warden, "/sessions/whoami", token)


def _settings_flow(warden: ThreadedWarden, token: str) -> dict[str, Any]:
    answer = _get(warden, "/self-service/settings/api", token)
    assert answer.status == 200, answer.data
    return dict(answer.json())


def _settings(warden: ThreadedWarden, token: str, body: dict[str, Any]) -> tuple[int, Any]:
    return post_flow(warden.public_url, "settings", _settings_flow(warden, token)["id"], body, token)


def _aal2_flow(warden: ThreadedWarden, token: str) -> dict[str, Any]:
    answer = _get(warden, "/self-service/login/api?aal=aal2", token)
    assert answer.status == 200, answer.data
    return dict(answer.json())


def _pair_totp(warden: ThreadedWarden, token: str) -> tuple[int, Any, str]:
    flow = _settings_flow(warden, token)
    secret_node = next(n for n in flow["ui"]["nodes"] if n["attributes"].get("id") == "totp_secret_key")
    secret = str(secret_node["attributes"]["text"]["text"])
    body = {"method": "totp", "totp_code": pyotp.TOTP(secret).now()}
    status, answer = post_flow(warden.public_url, "settings", flow["id"], body, token)
    return status, answer, secret


def _new_backup_codes(warden: ThreadedWarden, token: str) -> tuple[int, Any, list[str]]:
    flow = _settings_flow(warden, token)
    status, shown = post_flow(
        warden.public_url, "settings", flow["id"], {"method": "lookup_secret", "lookup_secret_regenerate": True}, token
    )
    if status != 200:
        return status, shown, []
    node = next(n for n in shown["ui"]["nodes"] if n["attributes"].get("id") == "lookup_secret_codes")
    codes = [s["context"]["secret"] for s in node["attributes"]["text"]["context"]["secrets"]]
    status, done = post_flow(
        warden.public_url, "settings", flow["id"], {"method": "lookup_secret", "lookup_secret_confirm": True}, token
    )
    return status, done, codes


def _add_security_key(warden: ThreadedWarden, token: str) -> tuple[int, Any]:
    flow = _settings_flow(warden, token)
    trigger = next(n for n in flow["ui"]["nodes"] if n["attributes"].get("name") == "webauthn_register_trigger")
    created = SoftAuthenticator(RP["origin"]).create(json.loads(trigger["attributes"]["value"]))
    body = {"method": "webauthn", "webauthn_register": json.dumps(created), "webauthn_register_displayname": "mine"}
    return post_flow(warden.public_url, "settings", flow["id"], body, token)


def _next_step_code(secret: str) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30)


# --- adding a second factor next to one the session has not used ----------------------------------


def test_the_password_alone_cannot_enrol_another_second_factor(warden: ThreadedWarden) -> None:
    """An attacker holding only the password (a fresh, privileged aal1 session) of an account that
    has a second factor must not add one of their own: it would make their session aal2 at once and
    let them through every later aal2 step (as removing one, adding one needs an aal2 session)."""
    email = _email()
    create_identity(warden.admin_url, email)
    owner = _password_login(warden, email)
    status, _, _secret = _pair_totp(warden, owner)
    assert status == 200

    attacker = _password_login(warden, email)
    assert _whoami(warden, attacker).status == 403, "aal1: the owner's TOTP is still needed"
    for add in (_new_backup_codes, _add_security_key):
        status, answer, *_ = add(warden, attacker)
        assert status == 403 and answer["error"]["id"] == "session_aal2_required", (add.__name__, answer)
        assert _whoami(warden, attacker).status == 403, add.__name__
    identity = _get(warden, f"/admin/identities?credentials_identifier={email}", admin=True).json()[0]
    assert not {"lookup_secret", "webauthn"} & set(identity["credentials"]), "nothing was added"


def test_backup_codes_alone_do_not_let_the_password_pair_an_authenticator(warden: ThreadedWarden) -> None:
    email = _email()
    create_identity(warden.admin_url, email)
    status, _, codes = _new_backup_codes(warden, _password_login(warden, email))
    assert status == 200
    attacker = _password_login(warden, email)
    status, answer, _secret = _pair_totp(warden, attacker)
    assert status == 403 and answer["error"]["id"] == "session_aal2_required", answer
    # The owner, past the second step with a code, still may.
    flow = _aal2_flow(warden, attacker)
    status, done = post_flow(
        warden.public_url, "login", flow["id"], {"method": "lookup_secret", "lookup_secret": codes[0]}, attacker
    )
    assert status == 200, done
    status, answer, _secret = _pair_totp(warden, attacker)
    assert status == 200, answer


def test_the_first_second_factor_needs_no_aal2_session(warden: ThreadedWarden) -> None:
    email = _email()
    create_identity(warden.admin_url, email)
    token = _password_login(warden, email)
    status, answer, _secret = _pair_totp(warden, token)
    assert status == 200, answer
    assert _whoami(warden, token).json()["authenticator_assurance_level"] == "aal2", "pairing proves the factor"


# --- backup codes all spent ------------------------------------------------------------------------


def _spend_backup_code(warden: ThreadedWarden, email: str, code: str) -> str:
    token = _password_login(warden, email)
    flow = _aal2_flow(warden, token)
    body = {"method": "lookup_secret", "lookup_secret": code}
    status, done = post_flow(warden.public_url, "login", flow["id"], body, token)
    assert status == 200, done
    return token


def test_spending_every_backup_code_does_not_lock_the_account_out(warden: ThreadedWarden) -> None:
    """Kratos counts a backup-code credential as a second factor only while a code is unused. Counted
    after the last one, the account needed aal2 for whoami and for settings (where new codes are
    made) and no code could give it: locked out for good, recovery included."""
    email = _email()
    create_identity(warden.admin_url, email)
    status, _, codes = _new_backup_codes(warden, _password_login(warden, email))
    assert status == 200 and len(codes) == 12
    for code in codes[:-1]:
        _spend_backup_code(warden, email, code)
    assert _whoami(warden, _password_login(warden, email)).status == 403, "one code left: still a factor"
    _spend_backup_code(warden, email, codes[-1])

    token = _password_login(warden, email)
    whoami = _whoami(warden, token)
    assert whoami.status == 200, whoami.json()
    assert whoami.json()["authenticator_assurance_level"] == "aal1"
    status, _, fresh = _new_backup_codes(warden, token)
    assert status == 200 and len(fresh) == 12, "new codes can be made"
    assert _whoami(warden, _password_login(warden, email)).status == 403, "a factor again"


def test_imported_backup_codes_are_never_shown_by_the_admin_api(warden: ThreadedWarden) -> None:
    """Kratos's import takes backup codes in clear (`codes`); Warden keeps them so until one is spent,
    and shows no code, even with `include_credential=lookup_secret`."""
    email = _email()
    created = urllib3.request(
        "POST",
        f"{warden.admin_url}/admin/identities",
        json={
            "schema_id": "default",
            "traits": {"email": email},
            "credentials": {
                "password": {"config": {"password": PASSWORD}},
                "lookup_secret": {"config": {"codes": [{"code": "imported1"}, {"code": "imported2"}]}},
            },
        },
    )
    assert created.status == 201, created.data
    assert "imported1" not in created.data.decode()
    identity_id = created.json()["id"]
    for query in ("", "?include_credential=lookup_secret"):
        shown = _get(warden, f"/admin/identities/{identity_id}{query}", admin=True)
        assert shown.status == 200 and "imported" not in shown.data.decode(), shown.data
    listed = _get(
        warden, f"/admin/identities?credentials_identifier={email}&include_credential=lookup_secret", admin=True
    )
    assert listed.status == 200 and "imported" not in listed.data.decode(), listed.data


# --- security keys: second-factor keys and passwordless keys are not interchangeable ----------------


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def passwordless_warden(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("second-factors-passwordless")
    methods = {**METHODS, "webauthn": {"enabled": True, "config": {"rp": RP, "passwordless": True}}}
    with database(request.param, directory) as dsn:
        settings = selfservice_settings(
            directory, dsn, methods=methods, session={"whoami": {"required_aal": "aal1"}, "lifespan": "2h"}
        )
        with running_warden(settings) as w:
            yield w


def _identity_with_keys(warden: ThreadedWarden, email: str, *keys: tuple[SoftAuthenticator, bool]) -> str:
    """An identity with a password and these security keys (each: its authenticator, and whether it
    was registered for passwordless sign-in), as Kratos's import takes them."""
    stored = [
        {
            "id": b64url(key.credential_id),
            "public_key": b64url(key.cose_public_key()),
            "display_name": f"key {n}",
            "is_passwordless": passwordless,
            "authenticator": {"sign_count": 0},
        }
        for n, (key, passwordless) in enumerate(keys)
    ]
    for key, _ in keys:
        key.user_handle = b"handle-of-" + email.encode()
    body = {
        "schema_id": "default",
        "traits": {"email": email},
        "credentials": {
            "password": {"config": {"password": PASSWORD}},
            "webauthn": {"config": {"credentials": stored, "user_handle": b64url(keys[0][0].user_handle)}},
        },
    }
    created = urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=body)
    assert created.status == 201, created.data
    return str(created.json()["id"])


def _trigger_options(flow: dict[str, Any]) -> dict[str, Any]:
    node = next(n for n in flow["ui"]["nodes"] if n["attributes"].get("name") == "webauthn_login_trigger")
    return dict(json.loads(node["attributes"]["value"]))


def test_a_second_factor_key_does_not_sign_in_alone(passwordless_warden: ThreadedWarden) -> None:
    """A key registered as a second factor (no resident key, no user verification asked) is a
    possession factor to go with a password; Kratos refuses it for passwordless sign-in, and only the
    identity's passwordless keys are asked for."""
    warden = passwordless_warden
    email = _email()
    second_factor, passwordless = SoftAuthenticator(RP["origin"]), SoftAuthenticator(RP["origin"])
    _identity_with_keys(warden, email, (second_factor, False), (passwordless, True))
    flow = _get(warden, "/self-service/login/api").json()
    status, step = post_flow(warden.public_url, "login", flow["id"], {"method": "webauthn", "identifier": email})
    assert status == 400 and message_ids(step) == [1010012]
    options = _trigger_options(step)
    allowed = [c["id"] for c in options["publicKey"]["allowCredentials"]]
    assert allowed == [b64url(passwordless.credential_id)], "only the passwordless key is asked for"

    body = {"method": "webauthn", "identifier": email, "webauthn_login": json.dumps(second_factor.get(options))}
    status, refused = post_flow(warden.public_url, "login", flow["id"], body)
    assert status == 400 and "session" not in refused, refused
    body = {
        "method": "webauthn",
        "identifier": email,
        "webauthn_login": json.dumps(passwordless.get(_trigger_options(refused))),
    }
    status, done = post_flow(warden.public_url, "login", flow["id"], body)
    assert status == 200 and done["session"]["authenticator_assurance_level"] == "aal1", done


def test_a_passwordless_key_is_not_asked_for_as_the_second_factor(warden: ThreadedWarden) -> None:
    email = _email()
    second_factor, passwordless = SoftAuthenticator(RP["origin"]), SoftAuthenticator(RP["origin"])
    _identity_with_keys(warden, email, (second_factor, False), (passwordless, True))
    token = _password_login(warden, email)
    flow = _aal2_flow(warden, token)
    options = _trigger_options(flow)
    allowed = [c["id"] for c in options["publicKey"]["allowCredentials"]]
    assert allowed == [b64url(second_factor.credential_id)]
    body = {"method": "webauthn", "webauthn_login": json.dumps(passwordless.get(options))}
    status, refused = post_flow(warden.public_url, "login", flow["id"], body, token)
    assert status == 400 and "session" not in refused, refused
    body = {"method": "webauthn", "webauthn_login": json.dumps(second_factor.get(_trigger_options(refused)))}
    status, done = post_flow(warden.public_url, "login", flow["id"], body, token)
    assert status == 200 and done["session"]["authenticator_assurance_level"] == "aal2", done


# --- one assertion, one sign-in ---------------------------------------------------------------------


def test_one_assertion_submitted_at_once_signs_in_once(passwordless_warden: ThreadedWarden) -> None:
    """Many authenticators (synced passkeys among them) keep their counter at 0, so the counter does
    not tell a replay. The challenge does: it is the flow's, spent by the first answer. Submitted
    several times at once (a double click, a retrying client, someone who copied the request), one
    assertion must sign in once."""
    warden = passwordless_warden
    email = _email()
    key = SoftAuthenticator(RP["origin"])
    _identity_with_keys(warden, email, (key, True))
    for _ in range(3):
        flow = _get(warden, "/self-service/login/api").json()
        status, step = post_flow(warden.public_url, "login", flow["id"], {"method": "webauthn", "identifier": email})
        assert status == 400, step
        body = {
            "method": "webauthn",
            "identifier": email,
            "webauthn_login": json.dumps(key.get(_trigger_options(step), count=0)),
        }
        submissions = [(flow["id"], body)] * 4
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(lambda s: post_flow(warden.public_url, "login", *s), submissions))
        signed_in = [a for status, a in answers if status == 200]
        assert len(signed_in) == 1, [status for status, _ in answers]


# --- the aal2 step is taken by the session it upgrades -----------------------------------------------


def test_the_aal2_step_is_submitted_with_the_session_it_upgrades(warden: ThreadedWarden) -> None:
    """Kratos takes the session of the submission and refuses an aal2 step without one. A flow
    that carried its session from its creation was completed by any request that had its id: with
    no session at all (the answer then held the upgraded session), or with another identity's
    session (whose token the answer then paired with this identity's session)."""
    email, other = _email(), _email()
    create_identity(warden.admin_url, email)
    create_identity(warden.admin_url, other)
    status, _, secret = _pair_totp(warden, _password_login(warden, email))
    assert status == 200
    token, stranger = _password_login(warden, email), _password_login(warden, other)
    flow = _aal2_flow(warden, token)
    body = {"method": "totp", "totp_code": _next_step_code(secret)}

    status, answer = post_flow(warden.public_url, "login", flow["id"], body)
    assert status == 401 and answer["error"]["id"] == "session_aal1_required", answer
    status, answer = post_flow(warden.public_url, "login", flow["id"], body, stranger)
    assert status == 403 and answer["error"]["id"] == "security_identity_mismatch", answer
    assert _whoami(warden, stranger).json()["identity"]["traits"]["email"] == other

    status, done = post_flow(warden.public_url, "login", flow["id"], body, token)
    assert status == 200 and done["session"]["authenticator_assurance_level"] == "aal2", done


# --- security keys in settings ------------------------------------------------------------------------


def test_the_same_security_key_is_not_added_twice(warden: ThreadedWarden) -> None:
    """A browser leaves out the keys a registration excludes; a client that does not sent the same
    key again and got it listed twice, and removing one removed both."""
    email = _email()
    create_identity(warden.admin_url, email)
    token = _password_login(warden, email)
    key = SoftAuthenticator(RP["origin"])
    for expected in (200, 400):
        flow = _settings_flow(warden, token)
        trigger = next(n for n in flow["ui"]["nodes"] if n["attributes"].get("name") == "webauthn_register_trigger")
        body = {
            "method": "webauthn",
            "webauthn_register": json.dumps(key.create(json.loads(trigger["attributes"]["value"]))),
        }
        status, answer = post_flow(warden.public_url, "settings", flow["id"], body, token)
        assert status == expected, answer
    removes = [
        n for n in _settings_flow(warden, token)["ui"]["nodes"] if n["attributes"].get("name") == "webauthn_remove"
    ]
    assert len(removes) == 1


def test_the_last_second_factor_key_goes_only_from_an_aal2_session(warden: ThreadedWarden) -> None:
    """Beside a passwordless key (a first factor), the last second-factor key is the identity's
    second factor: removing it from the password's session alone would strip it."""
    email = _email()
    second_factor, passwordless = SoftAuthenticator(RP["origin"]), SoftAuthenticator(RP["origin"])
    _identity_with_keys(warden, email, (second_factor, False), (passwordless, True))
    token = _password_login(warden, email)
    status, answer = _settings(warden, token, {"webauthn_remove": b64url(second_factor.credential_id)})
    assert status == 403 and answer["error"]["id"] == "session_aal2_required", answer
    status, answer = _settings(warden, token, {"webauthn_remove": b64url(passwordless.credential_id)})
    assert status == 200, "a passwordless key is no second factor"


# --- backup codes outlive a rotation of the secret that keys them -------------------------------------


def test_backup_codes_still_work_once_secrets_default_is_rotated(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Backup codes are kept as HMACs keyed with the first of `secrets.default`. Kratos rotates a
    secret by putting a new one first and keeping the old ones to verify with; the codes, made to
    last, must still be accepted then (else whoever relies on them, phone lost, is locked out)."""
    directory = tmp_path_factory.mktemp("second-factors-rotation")
    old, new = "backup-codes-old-secret-0123456789", "backup-codes-new-secret-0123456789"

    def started(dsn: str, default: list[str]) -> Any:
        return running_warden(
            selfservice_settings(
                directory,
                dsn,
                methods=METHODS,
                session={"whoami": {"required_aal": "highest_available"}},
                secrets={"cookie": ["second-factor-tests-cookie-0123456789"], "default": default},
            )
        )

    email = _email()
    with database("postgres", directory) as dsn:
        with started(dsn, [old]) as before:
            create_identity(before.admin_url, email)
            status, _, codes = _new_backup_codes(before, _password_login(before, email))
            assert status == 200
            _spend_backup_code(before, email, codes[0])
        with started(dsn, [new, old]) as after:
            _spend_backup_code(after, email, codes[1])
            token = _spend_backup_code(after, email, codes[2])
            status, _, fresh = _new_backup_codes(after, token)
            assert status == 200
        with started(dsn, [new]) as later:
            _spend_backup_code(later, email, fresh[0])
