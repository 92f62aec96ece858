"""Second factors through Kratos's SDK on native (API) flows, on SQLite and PostgreSQL: TOTP paired
in settings with a real pyotp code, login with password then TOTP (the session upgraded in place to
aal2), replays refused, backup codes single-use (also under concurrency), `required_aal:
highest_available` on whoami, removal only from an aal2 session, the mails, and the throttle."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import ory_kratos_client as kratos
import pyotp
import pytest
import urllib3
from ory_kratos_client.api.frontend_api import FrontendApi
from sqlalchemy import MetaData, select

import services.identity.manager as identity_manager
from services.identity.backup_code_sealing import seal_stored_sets
from services.identity.tables import identity_tables
from services.identity.throttle import SECOND_FACTORS, identifier_key
from shared.errors import ConfigError
from shared.kdf import parse_prefix
from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import (
    PASSWORD,
    SESSION_LIFESPAN_SECONDS,
    api_error,
    as_dict,
    database,
    message_ids,
    node,
    node_names,
    selfservice_settings,
)

CIPHER_SECRET = "0123456789abcdef0123456789abcdef"  # 32 characters, as Kratos requires
COOKIE_SECRET = "mfa-tests-cookie-secret-0123456789"  # also the key of backup codes' hashes
ISSUER = "Warden Tests"
METHODS = {
    "password": {"enabled": True},
    "totp": {"enabled": True, "config": {"issuer": ISSUER}},
    "lookup_secret": {"enabled": True},
    "code": {"enabled": True, "mfa_enabled": True},
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def warden(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("mfa-native")
    settings = dict(
        methods=METHODS,
        session={"lifespan": f"{SESSION_LIFESPAN_SECONDS}s", "whoami": {"required_aal": "highest_available"}},
        secrets={"cookie": [COOKIE_SECRET], "cipher": [CIPHER_SECRET]},
        # Recovery needs a courier in Kratos's schema; the tests read the stored messages instead.
        courier={"smtp": {"connection_uri": "smtp://127.0.0.1:9/?disable_starttls=true"}},
    )
    with (
        database(request.param, directory) as dsn,
        running_warden(selfservice_settings(directory, dsn, flows={"recovery": {"enabled": True}}, **settings)) as w,
    ):
        yield w


@pytest.fixture(scope="module")
def frontend(warden: ThreadedWarden) -> Iterator[FrontendApi]:
    with kratos.ApiClient(kratos.Configuration(host=warden.public_url)) as client:
        yield FrontendApi(client)


# --- helpers ---------------------------------------------------------------------------------------


def _email() -> str:
    return f"mfa-{uuid.uuid4().hex[:10]}@example.com"


def _register(frontend: FrontendApi, email: str) -> str:
    flow = frontend.create_native_registration_flow()
    body = kratos.UpdateRegistrationFlowWithPasswordMethod(
        method="password", password=PASSWORD, traits={"email": email}
    )
    done = frontend.update_registration_flow(flow.id, kratos.UpdateRegistrationFlowBody(body))
    return str(done.session_token)


def _password_login(frontend: FrontendApi, email: str) -> Any:
    flow = frontend.create_native_login_flow()
    body = kratos.UpdateLoginFlowWithPasswordMethod(method="password", identifier=email, password=PASSWORD)
    return frontend.update_login_flow(flow.id, kratos.UpdateLoginFlowBody(body))


def _settings(frontend: FrontendApi, token: str, body: Any) -> Any:
    flow = frontend.create_native_settings_flow(x_session_token=token)
    return frontend.update_settings_flow(flow.id, kratos.UpdateSettingsFlowBody(body), x_session_token=token)


def _pair_totp(frontend: FrontendApi, token: str) -> str:
    """Pairs an authenticator through settings; returns the secret the app holds."""
    flow = frontend.create_native_settings_flow(x_session_token=token)
    secret = _secret_of(flow)
    code = pyotp.TOTP(secret).now()
    body = kratos.UpdateSettingsFlowWithTotpMethod(method="totp", totp_code=code)
    done = frontend.update_settings_flow(flow.id, kratos.UpdateSettingsFlowBody(body), x_session_token=token)
    assert done.state == "success"
    return secret


def _secret_of(flow: Any) -> str:
    nodes = as_dict(flow)["ui"]["nodes"]
    text = next(n for n in nodes if n["attributes"].get("id") == "totp_secret_key")
    return str(text["attributes"]["text"]["text"])


def _aal2_flow(frontend: FrontendApi, token: str) -> Any:
    return frontend.create_native_login_flow(aal="aal2", x_session_token=token)


def _submit_totp(frontend: FrontendApi, flow_id: str, token: str, code: str) -> Any:
    body = kratos.UpdateLoginFlowWithTotpMethod(method="totp", totp_code=code)
    return frontend.update_login_flow(flow_id, kratos.UpdateLoginFlowBody(body), x_session_token=token)


def _submit_lookup(frontend: FrontendApi, flow_id: str, token: str, code: str) -> Any:
    body = kratos.UpdateLoginFlowWithLookupSecretMethod(method="lookup_secret", lookup_secret=code)
    return frontend.update_login_flow(flow_id, kratos.UpdateLoginFlowBody(body), x_session_token=token)


def _wrong(secret: str) -> str:
    """Six digits that are no code of the current steps."""
    totp = pyotp.TOTP(secret)
    valid = {totp.at(time.time() + 30 * d) for d in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def _next_step_code(secret: str) -> str:
    """The code of the next time step: within the one step of drift allowed, and later than the
    step the pairing spent (an earlier or equal step is a replay)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def _identity_internal(warden: ThreadedWarden) -> Any:
    return next(r for r in warden.process._runtimes if r.name == "identity").internal_api


def _identity_runtime(warden: ThreadedWarden) -> Any:
    return next(r for r in warden.process._runtimes if r.name == "identity")


def _stored_codes(warden: ThreadedWarden, identity_id: str) -> dict[str, Any]:
    """The backup-code credential's config as the database holds it (no read path that seals it)."""
    t = identity_tables(MetaData()).credentials
    query = select(t.c.config).where(t.c.identity_id == identity_id, t.c.type == "lookup_secret")

    async def read() -> dict[str, Any]:
        async with _identity_runtime(warden).container.uow.read() as conn:
            return dict(json.loads((await conn.execute(query)).scalar_one()))

    return dict(warden.run(read()))


def _store_codes(warden: ThreadedWarden, identity_id: str, config: dict[str, Any]) -> None:
    t = identity_tables(MetaData()).credentials
    change = t.update().where(t.c.identity_id == identity_id, t.c.type == "lookup_secret")

    async def write() -> None:
        async with _identity_runtime(warden).container.uow() as uow:
            await uow.connection.execute(change.values(config=json.dumps(config)))
            await uow.commit()

    warden.run(write())


def _keyed(salt: str, code: str) -> str:
    """A code's keyed hash as Warden stored it before the KDF (the pepper: the first cookie secret)."""
    return hmac.new(COOKIE_SECRET.encode(), f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()


def _regenerate_and_confirm(frontend: FrontendApi, token: str) -> list[str]:
    flow = frontend.create_native_settings_flow(x_session_token=token)
    regen = kratos.UpdateSettingsFlowWithLookupMethod(method="lookup_secret", lookup_secret_regenerate=True)
    shown = frontend.update_settings_flow(flow.id, kratos.UpdateSettingsFlowBody(regen), x_session_token=token)
    assert shown.state == "show_form"
    codes_node = next(n for n in as_dict(shown)["ui"]["nodes"] if n["attributes"].get("id") == "lookup_secret_codes")
    codes = [s["context"]["secret"] for s in codes_node["attributes"]["text"]["context"]["secrets"]]
    assert "lookup_secret_confirm" in node_names(shown)
    confirm = kratos.UpdateSettingsFlowWithLookupMethod(method="lookup_secret", lookup_secret_confirm=True)
    done = frontend.update_settings_flow(flow.id, kratos.UpdateSettingsFlowBody(confirm), x_session_token=token)
    assert done.state == "success"
    return codes


# --- TOTP ------------------------------------------------------------------------------------------


def test_settings_offer_totp_pairing_with_kratos_nodes(frontend: FrontendApi) -> None:
    token = _register(frontend, _email())
    flow = as_dict(frontend.create_native_settings_flow(x_session_token=token))
    qr = next(n for n in flow["ui"]["nodes"] if n["attributes"].get("id") == "totp_qr")
    assert qr["type"] == "img" and qr["group"] == "totp"
    assert qr["attributes"]["src"].startswith("data:image/png;base64,") and qr["meta"]["label"]["id"] == 1050005
    secret_node = next(n for n in flow["ui"]["nodes"] if n["attributes"].get("id") == "totp_secret_key")
    assert secret_node["attributes"]["text"]["id"] == 1050006 and secret_node["meta"]["label"]["id"] == 1050017
    assert node(flow, "totp_code")["meta"]["label"]["id"] == 1070006
    assert "totp_unlink" not in node_names(flow)
    buttons = [n["attributes"].get("value") for n in flow["ui"]["nodes"] if n["attributes"].get("type") == "submit"]
    assert "totp" in buttons


def test_settings_offer_unlinking_a_paired_app_with_kratos_s_node(frontend: FrontendApi) -> None:
    """Kratos's snapshot `device_unlinking_is_available_when_identity_has_totp`: one required
    submit button, nothing of the pairing form."""
    token = _register(frontend, _email())
    _pair_totp(frontend, token)
    flow = as_dict(frontend.create_native_settings_flow(x_session_token=token))
    assert [n for n in flow["ui"]["nodes"] if n["group"] == "totp"] == [
        {
            "type": "input",
            "group": "totp",
            "attributes": {
                "name": "totp_unlink",
                "type": "submit",
                "value": "true",
                "required": True,
                "disabled": False,
                "node_type": "input",
            },
            "messages": [],
            "meta": {"label": {"id": 1050004, "text": "Unlink TOTP Authenticator App", "type": "info"}},
        }
    ]


def test_pairing_login_with_password_then_totp_makes_the_session_aal2(
    warden: ThreadedWarden, frontend: FrontendApi
) -> None:
    email = _email()
    token = _register(frontend, email)
    secret = _pair_totp(frontend, token)
    paired = frontend.to_session(x_session_token=token)
    assert paired.authenticator_assurance_level == "aal2", "pairing proves the factor"

    stored = warden.run(_identity_internal(warden).get_credential(paired.identity.id, "totp"))
    assert secret not in str(stored["config"]) and "otpauth" not in str(stored["config"]), "sealed at rest"
    admin = urllib3.request(
        "GET", f"{warden.admin_url}/admin/identities/{paired.identity.id}?include_credential=totp"
    ).data.decode()
    assert '"totp"' in admin and "totp_url" not in admin and secret not in admin, "never in an admin answer"

    login = _password_login(frontend, email)
    aal1 = login.session_token
    assert login.session.authenticator_assurance_level == "aal1"
    status, body = api_error(lambda: frontend.to_session(x_session_token=aal1))
    assert status == 403 and body["error"]["id"] == "session_aal2_required"
    assert "aal=aal2" in body["redirect_browser_to"]

    flow = _aal2_flow(frontend, aal1)
    assert flow.requested_aal == "aal2" and 1010004 in message_ids(flow)
    assert "password" not in node_names(flow) and node(flow, "totp_code")["meta"]["label"]["id"] == 1010006
    status, body = api_error(lambda: _submit_totp(frontend, flow.id, aal1, _wrong(secret)))
    assert status == 400 and message_ids(body, "totp_code") == [4000008]

    upgraded = _submit_totp(frontend, flow.id, aal1, _next_step_code(secret))
    assert upgraded.session.id == login.session.id, "upgraded in place"
    session = frontend.to_session(x_session_token=aal1)
    assert session.authenticator_assurance_level == "aal2"
    methods = [(m.method, m.aal) for m in session.authentication_methods]
    assert methods == [("password", "aal1"), ("totp", "aal2")]
    assert all(m.completed_at is not None for m in session.authentication_methods)


def test_a_refreshed_aal2_login_lists_its_messages_as_kratos_does(frontend: FrontendApi) -> None:
    """Kratos's `NewLoginFlow` sets "Please confirm this action" (1010003) and then adds "Please
    complete the second authentication challenge" (1010004) only when the session lacks aal2."""
    email = _email()
    paired = _register(frontend, email)
    _pair_totp(frontend, paired)  # pairing leaves this session aal2
    aal1 = _password_login(frontend, email).session_token
    lacking = frontend.create_native_login_flow(refresh=True, aal="aal2", x_session_token=aal1)
    assert message_ids(lacking) == [1010003, 1010004]
    holding = frontend.create_native_login_flow(refresh=True, aal="aal2", x_session_token=paired)
    assert message_ids(holding) == [1010003]


def test_a_password_only_session_neither_lists_nor_ends_its_owner_s_sessions(frontend: FrontendApi) -> None:
    """Under `highest_available`, whoami's rule holds for `/sessions` too (checklist OTP-9): whoever
    has only the password of an account with TOTP sees no devices or addresses, and signs no one out."""
    email = _email()
    owner = _register(frontend, email)
    secret = _pair_totp(frontend, owner)
    intruder = _password_login(frontend, email).session_token
    for call in (
        lambda: frontend.list_my_sessions(x_session_token=intruder),
        lambda: frontend.disable_my_other_sessions(x_session_token=intruder),
        lambda: frontend.disable_my_session(frontend.to_session(x_session_token=owner).id, x_session_token=intruder),
    ):
        status, body = api_error(call)
        assert status == 403 and body["error"]["id"] == "session_aal2_required", body
    assert frontend.to_session(x_session_token=owner).active, "the owner is still signed in"

    flow = _aal2_flow(frontend, intruder)
    _submit_totp(frontend, flow.id, intruder, _next_step_code(secret))  # with the second factor: allowed
    assert [s.id for s in frontend.list_my_sessions(x_session_token=intruder)] == [
        frontend.to_session(x_session_token=owner).id
    ]


def test_a_totp_code_is_accepted_once(frontend: FrontendApi) -> None:
    email = _email()
    secret = _pair_totp(frontend, _register(frontend, email))
    code = _next_step_code(secret)
    first, second = _password_login(frontend, email).session_token, _password_login(frontend, email).session_token
    _submit_totp(frontend, _aal2_flow(frontend, first).id, first, code)
    replay = _aal2_flow(frontend, second)
    status, body = api_error(lambda: _submit_totp(frontend, replay.id, second, code))
    assert status == 400 and message_ids(body, "totp_code") == [4000008]
    assert frontend.create_native_login_flow(aal="aal2", x_session_token=second).requested_aal == "aal2"


@pytest.mark.parametrize("code", ["", "12345", "abcdef", "1234567", " " * 6, "١٢٣٤٥٦"])
def test_malformed_totp_codes_are_400_never_500(frontend: FrontendApi, code: str) -> None:
    email = _email()
    _pair_totp(frontend, _register(frontend, email))
    token = _password_login(frontend, email).session_token
    flow = _aal2_flow(frontend, token)
    status, body = api_error(lambda: _submit_totp(frontend, flow.id, token, code))
    assert status == 400 and message_ids(body, "totp_code") in ([4000008], [4000002])


def test_totp_is_unlinked_only_from_an_aal2_session(frontend: FrontendApi) -> None:
    email = _email()
    secret = _pair_totp(frontend, _register(frontend, email))
    aal1 = _password_login(frontend, email).session_token
    unlink = kratos.UpdateSettingsFlowWithTotpMethod(method="totp", totp_unlink=True)
    status, body = api_error(lambda: _settings(frontend, aal1, unlink))
    assert status == 403 and body["error"]["id"] == "session_aal2_required"
    flow = _aal2_flow(frontend, aal1)
    _submit_totp(frontend, flow.id, aal1, _next_step_code(secret))
    done = _settings(frontend, aal1, unlink)
    assert done.state == "success" and "totp_unlink" not in node_names(done) and "totp_code" in node_names(done)
    assert _password_login(frontend, email).session.authenticator_assurance_level == "aal1"
    fresh = _password_login(frontend, email).session_token
    assert frontend.to_session(x_session_token=fresh).authenticator_assurance_level == "aal1", "no factor left"


def test_totp_submissions_follow_whether_an_app_is_paired_as_in_kratos(
    warden: ThreadedWarden, frontend: FrontendApi
) -> None:
    """Kratos's `continueSettingsFlow` asks only whether an app is paired: without one, `totp_unlink`
    is a pairing that lacks its code (4000002 on `totp_code`); with one, a pairing changes nothing
    and succeeds."""
    token = _register(frontend, _email())
    unlink = kratos.UpdateSettingsFlowWithTotpMethod(method="totp", totp_unlink=True)
    status, body = api_error(lambda: _settings(frontend, token, unlink))
    assert status == 400 and message_ids(body, "totp_code") == [4000002] and message_ids(body) == [], body
    secret = _pair_totp(frontend, token)
    identity_id = frontend.to_session(x_session_token=token).identity.id
    stored = warden.run(_identity_internal(warden).get_credential(identity_id, "totp"))
    again = kratos.UpdateSettingsFlowWithTotpMethod(method="totp", totp_code=_next_step_code(secret))
    done = _settings(frontend, token, again)
    assert done.state == "success" and "totp_unlink" in node_names(done)
    assert warden.run(_identity_internal(warden).get_credential(identity_id, "totp")) == stored


def test_an_aal2_login_without_a_session_is_refused(frontend: FrontendApi) -> None:
    status, body = api_error(lambda: frontend.create_native_login_flow(aal="aal2"))
    assert status == 401 and body["error"]["id"] == "session_aal1_required"


def test_an_unknown_aal_is_refused_with_the_levels_kratos_takes(frontend: FrontendApi) -> None:
    """Kratos's `NewFlow` lowercases the level before it parses it."""
    status, body = api_error(lambda: frontend.create_native_login_flow(aal="AAL0"))
    assert status == 400 and body["error"]["reason"] == (
        "Unable to parse AuthenticationMethod Assurance Level (AAL): expected one of [aal1, aal2] but got aal0"
    ), body
    assert frontend.create_native_login_flow(aal="AAL1").requested_aal == "aal1"


def test_wrong_second_factor_codes_are_throttled_with_retry_after(
    warden: ThreadedWarden, frontend: FrontendApi
) -> None:
    email = _email()
    secret = _pair_totp(frontend, _register(frontend, email))
    token = _password_login(frontend, email).session_token
    flow = _aal2_flow(frontend, token)
    statuses = []
    for _ in range(12):  # 5 free failures, then blocks of 1 s, 2 s, 4 s…: a 429 comes within a few tries
        raw = urllib3.request(
            "POST",
            f"{warden.public_url}/self-service/login?flow={flow.id}",
            json={"method": "totp", "totp_code": _wrong(secret)},
            headers={"X-Session-Token": token, "Accept": "application/json"},
        )
        statuses.append(raw.status)
        if raw.status == 429:
            break
    assert statuses[:5] == [400] * 5 and statuses[-1] == 429, statuses
    assert int(raw.headers["Retry-After"]) >= 1
    assert 4290001 in [m["id"] for m in raw.json()["ui"]["messages"]], "the flow says when to retry"
    throttle = _identity_internal(warden)._passwords.throttle
    assert warden.run(_failures(throttle, email)) >= 6, "counted on the identifier, apart from passwords"


def test_a_right_password_does_not_reset_the_second_factor_count(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    """Whoever knows the password must not get a fresh round of guesses at the second factor with
    every sign-in: rounds of a password sign-in and five wrong codes reach a block."""
    email = _email()
    secret = _pair_totp(frontend, _register(frontend, email))
    statuses = []
    for _ in range(3):
        token = _password_login(frontend, email).session_token
        flow = _aal2_flow(frontend, token)
        for _ in range(5):
            statuses.append(
                urllib3.request(
                    "POST",
                    f"{warden.public_url}/self-service/login?flow={flow.id}",
                    json={"method": "totp", "totp_code": _wrong(secret)},
                    headers={"X-Session-Token": token, "Accept": "application/json"},
                ).status
            )
    assert statuses[:6] == [400] * 6 and 429 in statuses[6:], statuses


async def _failures(throttle: Any, identifier: str) -> int:
    key = identifier_key(identifier, SECOND_FACTORS)
    async with throttle.uow() as uow:
        row = (
            await uow.connection.execute(select(throttle.table.c.failures).where(throttle.table.c.key_hash == key))
        ).first()
    return int(row.failures) if row else 0


# --- lookup secrets --------------------------------------------------------------------------------


def test_backup_codes_are_single_use_and_hashed(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    email = _email()
    token = _register(frontend, email)
    codes = _regenerate_and_confirm(frontend, token)
    assert len(codes) == 12 and all(len(c) == 8 and c.isalnum() and c.islower() or c.isdigit() for c in codes)
    identity_id = frontend.to_session(x_session_token=token).identity.id
    stored = warden.run(_identity_internal(warden).get_credential(identity_id, "lookup_secret"))
    assert not any(c in str(stored["config"]) for c in codes), "only hashes at rest"

    first = _password_login(frontend, email).session_token
    done = _submit_lookup(frontend, _aal2_flow(frontend, first).id, first, codes[0])
    assert done.session.authenticator_assurance_level == "aal2"
    assert [m.method for m in done.session.authentication_methods] == ["password", "lookup_secret"]

    second = _password_login(frontend, email).session_token
    status, body = api_error(lambda: _submit_lookup(frontend, _aal2_flow(frontend, second).id, second, codes[0]))
    assert status == 400 and message_ids(body, "lookup_secret") == [4000012]
    status, body = api_error(lambda: _submit_lookup(frontend, _aal2_flow(frontend, second).id, second, "zzzzzzzz"))
    assert status == 400 and message_ids(body, "lookup_secret") == [4000016]

    reveal = kratos.UpdateSettingsFlowWithLookupMethod(method="lookup_secret", lookup_secret_reveal=True)
    shown = as_dict(_settings(frontend, first, reveal))
    codes_node = next(n for n in shown["ui"]["nodes"] if n["attributes"].get("id") == "lookup_secret_codes")
    entries = codes_node["attributes"]["text"]["context"]["secrets"]
    assert [e["id"] for e in entries].count(1050014) == 1 and len(entries) == 12
    assert not any(c in str(shown) for c in codes), "a code is shown once, when generated"


def test_backup_codes_are_stored_under_argon2id_with_no_code_or_keyed_hash(
    warden: ThreadedWarden, frontend: FrontendApi
) -> None:
    token = _register(frontend, _email())
    codes = _regenerate_and_confirm(frontend, token)
    stored = _stored_codes(warden, frontend.to_session(x_session_token=token).identity.id)
    params, salt = parse_prefix(stored["kdf"])
    assert stored["kdf"].startswith("$argon2id$") and len(salt) == 16
    assert (params.memory_kib, params.iterations) >= (19 * 1024, 2), "OWASP's minimum beside bcrypt passwords"
    text = json.dumps(stored)
    assert not any(c in text for c in codes), "no code"
    assert not any(_keyed(stored["salt"], c) in text for c in codes), "no keyed hash a secret would open"
    assert len(stored["recovery_codes"]) == 12 and all(set(e) == {"hash", "used_at"} for e in stored["recovery_codes"])


def test_a_keyed_hash_set_from_before_the_kdf_signs_in_and_is_sealed_at_its_next_check(
    warden: ThreadedWarden, frontend: FrontendApi
) -> None:
    email = _email()
    token = _register(frontend, email)
    _regenerate_and_confirm(frontend, token)
    identity_id = frontend.to_session(x_session_token=token).identity.id
    salt, codes = "0f" * 16, [f"old{i:05d}" for i in range(12)]
    legacy = {"salt": salt, "recovery_codes": [{"hash": _keyed(salt, c), "used_at": None} for c in codes]}
    _store_codes(warden, identity_id, legacy)

    first = _password_login(frontend, email).session_token
    status, body = api_error(lambda: _submit_lookup(frontend, _aal2_flow(frontend, first).id, first, "zzzzzzzz"))
    assert status == 400 and message_ids(body, "lookup_secret") == [4000016]
    stored = _stored_codes(warden, identity_id)
    assert stored["kdf"].startswith("$argon2id$"), "sealed at the first check, right or wrong"
    assert not any(_keyed(salt, c) in json.dumps(stored) for c in codes), "no plain keyed hash is left"

    done = _submit_lookup(frontend, _aal2_flow(frontend, first).id, first, codes[5])
    assert done.session.authenticator_assurance_level == "aal2"
    second = _password_login(frontend, email).session_token
    status, body = api_error(lambda: _submit_lookup(frontend, _aal2_flow(frontend, second).id, second, codes[5]))
    assert status == 400 and message_ids(body, "lookup_secret") == [4000012]


def test_imported_clear_codes_are_stored_under_the_kdf_and_the_admin_api_shows_only_when_used(
    warden: ThreadedWarden, frontend: FrontendApi
) -> None:
    email = _email()
    codes = {"codes": [{"code": "imported1"}, {"code": "imported2", "used_at": "2026-01-01T00:00:00Z"}]}
    created = _import_with_password(warden, "lookup_secret", codes, email)
    assert created.status == 201, created.data
    identity_id = created.json()["id"]
    stored = _stored_codes(warden, identity_id)
    assert stored["kdf"].startswith("$argon2id$") and "imported" not in json.dumps(stored)
    assert [e["used_at"] for e in stored["recovery_codes"]] == [None, "2026-01-01T00:00:00Z"]
    shown = urllib3.request(
        "GET", f"{warden.admin_url}/admin/identities/{identity_id}?include_credential=lookup_secret"
    )
    config = shown.json()["credentials"]["lookup_secret"]["config"]
    assert config == {"recovery_codes": [{"used_at": None}, {"used_at": "2026-01-01T00:00:00Z"}]}, config

    login = _password_login(frontend, email).session_token
    done = _submit_lookup(frontend, _aal2_flow(frontend, login).id, login, "imported1")
    assert done.session.authenticator_assurance_level == "aal2"


def test_two_concurrent_submissions_of_one_code_exactly_one_wins(frontend: FrontendApi) -> None:
    email = _email()
    codes = _regenerate_and_confirm(frontend, _register(frontend, email))
    tokens = [_password_login(frontend, email).session_token for _ in range(4)]
    flows = [_aal2_flow(frontend, t).id for t in tokens]

    def submit(i: int) -> int:
        try:
            _submit_lookup(frontend, flows[i], tokens[i], codes[1])
            return 200
        except kratos.ApiException as exc:
            return int(exc.status)

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = sorted(pool.map(submit, range(4)))
    # Exactly one wins; the others are refused as a used code (400) or, when they arrive together,
    # by the throttle's bound on concurrent checks of one identifier (429).
    assert outcomes[0] == 200 and set(outcomes[1:]) <= {400, 429}, outcomes


def test_spending_the_last_code_tells_to_regenerate(frontend: FrontendApi) -> None:
    email = _email()
    token = _register(frontend, email)
    codes = _regenerate_and_confirm(frontend, token)
    for code in codes:
        login = _password_login(frontend, email).session_token
        flow = _aal2_flow(frontend, login)
        _submit_lookup(frontend, flow.id, login, code)
    last = frontend.get_login_flow(flow.id)
    assert 1050099 in message_ids(last)
    reveal = kratos.UpdateSettingsFlowWithLookupMethod(method="lookup_secret", lookup_secret_reveal=True)
    assert 1050099 in message_ids(_settings(frontend, login, reveal))


def test_confirming_backup_codes_before_any_were_generated_is_kratos_s_400(
    warden: ThreadedWarden, frontend: FrontendApi
) -> None:
    """Kratos's `continueSettingsFlowConfirm` with no codes in the flow: a 400 herodot error whose
    reason the settings error handler puts in the flow (4000001), and the stored codes stay."""
    email = _email()
    token = _register(frontend, email)
    codes = _regenerate_and_confirm(frontend, token)
    identity_id = frontend.to_session(x_session_token=token).identity.id
    before = _stored_codes(warden, identity_id)
    flow = frontend.create_native_settings_flow(x_session_token=token)
    answer = urllib3.request(
        "POST",
        f"{warden.public_url}/self-service/settings?flow={flow.id}",
        json={"method": "lookup_secret", "lookup_secret_confirm": True},
        headers={"X-Session-Token": token, "Accept": "application/json"},
    )
    assert answer.status == 400, answer.data
    reason = "You must (re-)generate recovery backup codes before you can save them."
    assert [(m["id"], m["text"]) for m in answer.json()["ui"]["messages"]] == [(4000001, reason)]
    assert answer.json()["state"] == "show_form" and answer.json()["id"] == flow.id
    assert _stored_codes(warden, identity_id) == before and len(codes) == 12


def test_backup_codes_of_an_identity_without_any_as_kratos_answers(frontend: FrontendApi) -> None:
    """Kratos's lookup settings: "reveal" with no codes is a 400 whose reason the settings error
    handler shows as 4000001; "disable" deletes what is not there, a success that changes nothing."""
    token = _register(frontend, _email())
    reveal = kratos.UpdateSettingsFlowWithLookupMethod(method="lookup_secret", lookup_secret_reveal=True)
    status, body = api_error(lambda: _settings(frontend, token, reveal))
    reason = "Can not reveal lookup codes because you have none."
    assert status == 400 and [(m["id"], m["text"]) for m in body["ui"]["messages"]] == [(4000001, reason)], body
    disable = kratos.UpdateSettingsFlowWithLookupMethod(method="lookup_secret", lookup_secret_disable=True)
    done = _settings(frontend, token, disable)
    assert done.state == "success" and "lookup_secret_regenerate" in node_names(done)


def test_disabling_backup_codes_needs_aal2_and_mails_the_user(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    email = _email()
    codes = _regenerate_and_confirm(frontend, _register(frontend, email))
    aal1 = _password_login(frontend, email).session_token
    disable = kratos.UpdateSettingsFlowWithLookupMethod(method="lookup_secret", lookup_secret_disable=True)
    status, body = api_error(lambda: _settings(frontend, aal1, disable))
    assert status == 403 and body["error"]["id"] == "session_aal2_required"
    _submit_lookup(frontend, _aal2_flow(frontend, aal1).id, aal1, codes[2])
    done = _settings(frontend, aal1, disable)
    assert "lookup_secret_regenerate" in node_names(done) and "lookup_secret_reveal" not in node_names(done)
    admin = f"{warden.admin_url}/admin/courier/messages?recipient={email}"

    def sent() -> list[str]:
        return sorted(m["template_type"] for m in urllib3.request("GET", admin).json())

    deadline = time.monotonic() + 10
    while sent() != ["second_factor_added", "second_factor_removed"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sent() == ["second_factor_added", "second_factor_removed"]


# --- a code as the second factor -----------------------------------------------------------------


def test_a_code_to_a_verified_address_upgrades_the_session(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    email = _email()
    created = urllib3.request(
        "POST",
        f"{warden.admin_url}/admin/identities",
        json={
            "schema_id": "default",
            "traits": {"email": email},
            "credentials": {"password": {"config": {"password": PASSWORD}}},
        },
    )
    assert created.status == 201, created.data
    unproven = _password_login(frontend, email).session_token
    assert frontend.to_session(x_session_token=unproven).authenticator_assurance_level == "aal1", (
        "no code can go to an unverified address, so it is no second factor yet"
    )
    # As a verification flow would (the admin API keeps new addresses unverified, as Kratos's does).
    warden.run(_identity_internal(warden).mark_address_verified("email", email))
    token = _password_login(frontend, email).session_token
    # With `mfa_enabled` the code is a second factor the account has: whoami
    # (`required_aal: highest_available`) wants it before it answers, as Kratos's does.
    status, refused = api_error(lambda: frontend.to_session(x_session_token=token))
    assert status == 403 and refused["error"]["id"] == "session_aal2_required", refused
    # The earlier session's whoami answer was cached while the address was unproven: the identity's
    # update event drops it, and that session is held to the code step as well.
    whoami = f"{warden.public_url}/sessions/whoami"
    deadline = time.monotonic() + 10
    while urllib3.request("GET", whoami, headers={"X-Session-Token": unproven}).status != 403:
        assert time.monotonic() < deadline, "the cached aal1 answer outlived the address's verification"
        time.sleep(0.05)
    flow = _aal2_flow(frontend, token)
    send = node(flow, "address")
    assert send["attributes"]["value"] == email and send["meta"]["label"]["id"] == 1010023

    def submit(body: dict[str, Any]) -> Any:
        return urllib3.request(
            "POST",
            f"{warden.public_url}/self-service/login?flow={flow.id}",
            json={"method": "code", **body},
            headers={"X-Session-Token": token, "Accept": "application/json"},
        )

    # An address the identity does not have: Kratos's 4000035 (`findIdentityForIdentifier`), for one
    # no account has and for another account's alike; none at all is a missing property.
    other = _email()
    _register(frontend, other)
    warden.run(_identity_internal(warden).mark_address_verified("email", other))
    for foreign in ("someone-else@example.com", other):
        unknown = submit({"address": foreign})
        assert unknown.status == 400 and unknown.json()["state"] == "choose_method", unknown.data
        assert 4000035 in message_ids(unknown.json()) and 4010010 not in message_ids(unknown.json())
    missing = submit({})
    assert missing.status == 400 and 4000002 in message_ids(missing.json()), missing.data
    sent = submit({"address": email})
    assert sent.status == 400 and sent.json()["state"] == "sent_email" and "code" in node_names(sent.json())
    code = _mailed_code(warden, email)
    wrong = submit({"code": "000000" if code != "000000" else "111111", "address": email})
    assert wrong.status == 400 and 4010008 in message_ids(wrong.json())
    done = submit({"code": code, "address": email})
    assert done.status == 200, done.json()
    session = frontend.to_session(x_session_token=token)
    assert session.authenticator_assurance_level == "aal2"
    assert [(m.method, m.aal) for m in session.authentication_methods] == [("password", "aal1"), ("code", "aal2")]


def _code_step(warden: ThreadedWarden, frontend: FrontendApi, email: str) -> tuple[str, Any]:
    """An aal1 session of a new account whose address is verified, and a way to post to its aal2
    login flow's code method (native, the body as given)."""
    _register(frontend, email)
    warden.run(_identity_internal(warden).mark_address_verified("email", email))
    token = str(_password_login(frontend, email).session_token)
    flow = _aal2_flow(frontend, token)

    def submit(body: dict[str, Any]) -> Any:
        return urllib3.request(
            "POST",
            f"{warden.public_url}/self-service/login?flow={flow.id}",
            json={"method": "code", **body},
            headers={"X-Session-Token": token, "Accept": "application/json"},
        )

    return token, submit


@pytest.mark.parametrize("field", ["identifier", "address"])
def test_the_code_step_takes_the_address_as_identifier_too_in_any_case(
    warden: ThreadedWarden, frontend: FrontendApi, field: str
) -> None:
    """Kratos reads the address to send to from `identifier`, else `address` (its own MFA tests send
    `identifier`), and lower-cases an email (`maybeNormalizeEmail`) before it looks it up."""
    email = _email()
    token, submit = _code_step(warden, frontend, email)
    sent = submit({field: email.upper()})
    assert sent.status == 400 and sent.json()["state"] == "sent_email", sent.data
    assert node(sent.json(), "address")["attributes"]["value"] == email, "the code went to the stored address"
    done = submit({"code": _mailed_code(warden, email)})
    assert done.status == 200, done.data
    assert frontend.to_session(x_session_token=token).authenticator_assurance_level == "aal2"


def test_the_code_step_after_five_wrong_codes_is_submitted_too_often(
    warden: ThreadedWarden, frontend: FrontendApi
) -> None:
    """As at aal1 (Kratos's `UseLoginCode` counts the flow's submissions): the sixth try, the right
    code included, is 4000001 in the flow, and the session stays aal1."""
    email = _email()
    token, submit = _code_step(warden, frontend, email)
    assert submit({"address": email}).status == 400
    code = _mailed_code(warden, email)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        refused = submit({"code": wrong})
        assert refused.status == 400 and message_ids(refused.json()) == [4010008], refused.data
    locked = submit({"code": code})
    assert locked.status == 400, locked.data
    too_often = "The request was submitted too often. Please request another code."
    assert [(m["id"], m["text"]) for m in locked.json()["ui"]["messages"]] == [(4000001, too_often)]
    status, refused_session = api_error(lambda: frontend.to_session(x_session_token=token))
    assert status == 403 and refused_session["error"]["id"] == "session_aal2_required"


def _mailed_code(warden: ThreadedWarden, email: str) -> str:
    return _mailed(warden, email, "login_code_valid")


def _mailed(warden: ThreadedWarden, email: str, template_type: str) -> str:
    """The 6-digit code of the first message of that type to `email`."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        messages = urllib3.request("GET", f"{warden.admin_url}/admin/courier/messages?recipient={email}").json()
        found = [m for m in messages if m["template_type"] == template_type]
        if found:
            return re.findall(r"\b[0-9]{6}\b", found[0]["body"])[0]
        time.sleep(0.1)
    raise AssertionError("no login code was mailed")


def test_recovery_does_not_bypass_the_second_factor(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    email = _email()
    _pair_totp(frontend, _register(frontend, email))
    flow = frontend.create_native_recovery_flow()
    ask = kratos.UpdateRecoveryFlowWithCodeMethod(method="code", email=email)
    frontend.update_recovery_flow(flow.id, kratos.UpdateRecoveryFlowBody(ask))
    code = _mailed(warden, email, "recovery_code_valid")
    give = kratos.UpdateRecoveryFlowWithCodeMethod(method="code", code=code)
    status, recovered = api_error_or_value(
        lambda: frontend.update_recovery_flow(flow.id, kratos.UpdateRecoveryFlowBody(give))
    )
    token = next(c["ory_session_token"] for c in recovered["continue_with"] if c["action"] == "set_ory_session_token")
    settings_id = next(c["flow"]["id"] for c in recovered["continue_with"] if c["action"] == "show_settings_ui")
    status, body = api_error(lambda: frontend.to_session(x_session_token=token))
    assert status == 403 and body["error"]["id"] == "session_aal2_required"
    status, body = api_error(lambda: frontend.get_settings_flow(settings_id, x_session_token=token))
    assert status == 403 and body["error"]["id"] == "session_aal2_required"
    new_password = kratos.UpdateSettingsFlowWithPasswordMethod(method="password", password="Another-Long-Pass-9921")
    status, body = api_error(
        lambda: frontend.update_settings_flow(
            settings_id, kratos.UpdateSettingsFlowBody(new_password), x_session_token=token
        )
    )
    assert status == 403 and body["error"]["id"] == "session_aal2_required"


def api_error_or_value(call: Any) -> tuple[int, dict[str, Any]]:
    try:
        return 200, as_dict(call())
    except kratos.ApiException as exc:
        return int(exc.status), json.loads(exc.body)


# --- imported second factors ---------------------------------------------------------------------


# What pyotp (and NIST SP 800-63B-4) will not check a code against: a secret under 112 bits (the
# 80-bit secrets of older apps), 4 digits, a step of an hour, HOTP, Steam's letter codes; and what is
# no TOTP URL at all: text, a value no configured secrets.cipher key opens, nothing.
UNUSABLE_TOTP_URLS = [
    "otpauth://totp/Old:a@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Old",
    f"otpauth://totp/a@example.com?secret={'A' * 32}&digits=4",
    f"otpauth://totp/a@example.com?secret={'A' * 32}&period=3600",
    f"otpauth://hotp/a@example.com?secret={'A' * 32}&counter=3",
    f"otpauth://totp/a@example.com?secret={'A' * 32}&counter=0",  # pyotp: a TypeError, not a ValueError
    f"otpauth://totp/a@example.com?secret={'A' * 32}&encoder=steam",  # codes of letters
    "not a url",
    "ab" * 40,
    "",
    None,
]


def _import_with_password(warden: ThreadedWarden, kind: str, config: dict[str, Any], email: str = "") -> Any:
    """POST /admin/identities: a new identity with a password and the `kind` credential's `config`."""
    credentials = {"password": {"config": {"password": PASSWORD}}, kind: {"config": config}}
    body = {"schema_id": "default", "traits": {"email": email or _email()}, "credentials": credentials}
    return urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=body)


@pytest.mark.parametrize("url", UNUSABLE_TOTP_URLS)
def test_an_imported_totp_url_no_code_could_be_checked_against_is_a_400(
    warden: ThreadedWarden, url: str | None
) -> None:
    created = _import_with_password(warden, "totp", {"totp_url": url})
    assert created.status == 400, created.data
    error = created.json()["error"]
    assert "credentials.totp.config.totp_url" in error["reason"], error
    assert "secret=" not in json.dumps(error), "the answer does not echo the secret"


_KEY = "A" * 43  # a 32-byte derived key, base64 without padding
_SEALED = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA"


@pytest.mark.parametrize(
    "config",
    [
        {"kdf": "$argon2id$v=19$m=1048576,t=10,p=1$AAAAAAAAAAAAAAAAAAAAAA", "recovery_codes": [{"hash": _KEY}]},
        {"kdf": "not-a-kdf", "recovery_codes": [{"hash": _KEY}]},
        {"kdf": 12345, "recovery_codes": [{"hash": _KEY}]},
        {"kdf": _SEALED, "recovery_codes": [{"hash": _KEY}, {"hash": "ab" * 32}]},  # a keyed hash beside
        {"recovery_codes": [{"hash": "ab" * 32}], "codes": [{"code": "imported1"}]},
    ],
    ids=["kdf-past-the-bounds", "kdf-malformed", "kdf-not-text", "keyed-hash-in-a-sealed-set", "both-lists"],
)
def test_an_imported_set_of_backup_codes_no_check_could_read_is_a_400(
    warden: ThreadedWarden, config: dict[str, Any]
) -> None:
    # Stored, every backup-code login of the identity would fail (a 500, or a code that never works).
    created = _import_with_password(warden, "lookup_secret", config)
    assert created.status == 400, created.data
    assert "credentials.lookup_secret.config" in created.json()["error"]["reason"]


def test_a_keyed_hash_set_the_identity_service_has_no_time_to_seal_still_signs_in(
    warden: ThreadedWarden, frontend: FrontendApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sealing on read is best effort: with the hashing threads too busy to seal within the time
    # allowed (here: none), the set is handed over as stored, and its keyed hashes still check.
    monkeypatch.setattr(identity_manager, "SEAL_ON_READ_SECONDS", 0.0)
    email, salt, codes = _email(), "0e" * 16, [f"busy{i:04d}" for i in range(3)]
    keyed = {"salt": salt, "recovery_codes": [{"hash": _keyed(salt, c)} for c in codes]}
    created = _import_with_password(warden, "lookup_secret", keyed, email)
    assert created.status == 201, created.data
    login = _password_login(frontend, email).session_token
    done = _submit_lookup(frontend, _aal2_flow(frontend, login).id, login, codes[2])
    assert done.session.authenticator_assurance_level == "aal2"
    assert "kdf" not in _stored_codes(warden, created.json()["id"]), "handed over, and kept, as stored"


def test_warden_backup_codes_seal_puts_every_keyed_hash_set_under_the_kdf_while_warden_serves(
    warden: ThreadedWarden, frontend: FrontendApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`warden backup-codes seal` (services/identity/backup_code_sealing.py): sets no owner has used
    since the KDF came are sealed too, in batches, and their codes still sign in. It waits for the
    hashing threads however busy (sealing on read gives up: here at once), reads each set rather
    than matching its text (a salt spelled "kdf"), and passes over sets with nothing to seal."""
    monkeypatch.setattr(identity_manager, "SEAL_ON_READ_SECONDS", 0.0)
    owners = []
    for n, salt in enumerate(["0a" * 16, "kdf", "0c" * 16]):
        email, codes = _email(), [f"batch{n}{i:03d}" for i in range(4)]
        keyed = {"salt": salt, "recovery_codes": [{"hash": _keyed(salt, c), "used_at": None} for c in codes]}
        created = _import_with_password(warden, "lookup_secret", keyed, email)
        assert created.status == 201, created.data
        owners.append((email, created.json()["id"], codes, keyed))
    assert _import_with_password(warden, "lookup_secret", {"recovery_codes": []}).status == 201  # nothing to seal
    assert all("kdf" not in _stored_codes(warden, identity_id) for _, identity_id, _, _ in owners)

    database = _identity_runtime(warden).container.uow.database
    report = warden.run(seal_stored_sets(warden.process.settings, database, batch=2), timeout=120)
    assert report.sealed >= 3 and (report.changed, report.gone) == (0, 0)  # (and any other test's keyed sets)
    again = warden.run(seal_stored_sets(warden.process.settings, database, batch=2), timeout=120)
    assert (again.sealed, again.changed, again.gone) == (0, 0, 0), "nothing left to seal"

    for email, identity_id, codes, keyed in owners:
        stored = _stored_codes(warden, identity_id)
        assert stored["kdf"].startswith("$argon2id$")
        assert not any(entry["hash"] in json.dumps(stored) for entry in keyed["recovery_codes"])
        login = _password_login(frontend, email).session_token
        done = _submit_lookup(frontend, _aal2_flow(frontend, login).id, login, codes[3])
        assert done.session.authenticator_assurance_level == "aal2"


def test_warden_backup_codes_seal_without_the_secret_says_which_key_is_missing(warden: ThreadedWarden) -> None:
    salt = "0d" * 16
    keyed = {"salt": salt, "recovery_codes": [{"hash": _keyed(salt, "nosecret1"), "used_at": None}]}
    assert _import_with_password(warden, "lookup_secret", keyed).status == 201
    settings = warden.process.settings
    secretless = settings.model_copy(update={"secrets": type(settings.secrets)()})
    database = _identity_runtime(warden).container.uow.database
    with pytest.raises(ConfigError) as refused:
        warden.run(seal_stored_sets(secretless, database, batch=50), timeout=120)
    assert "secrets.default" in str(refused.value) and COOKIE_SECRET not in str(refused.value)


def test_a_keyed_hash_set_imported_without_a_salt_signs_in_once_sealed(
    warden: ThreadedWarden, frontend: FrontendApi
) -> None:
    email, codes = _email(), [f"nosalt{i:02d}" for i in range(3)]
    created = _import_with_password(
        warden, "lookup_secret", {"recovery_codes": [{"hash": _keyed("", c)} for c in codes]}, email
    )
    assert created.status == 201, created.data
    login = _password_login(frontend, email).session_token
    status, body = api_error(lambda: _submit_lookup(frontend, _aal2_flow(frontend, login).id, login, "zzzzzzzz"))
    assert status == 400 and _stored_codes(warden, created.json()["id"])["kdf"], "sealed at the first check"
    done = _submit_lookup(frontend, _aal2_flow(frontend, login).id, login, codes[1])
    assert done.session.authenticator_assurance_level == "aal2"


@pytest.mark.parametrize(
    "config",
    [{"codes": [{"code": "imported1"}, {"code": ""}]}, {"codes": [{}]}, {"recovery_codes": [{"used_at": None}]}],
)
def test_an_imported_backup_code_no_one_could_type_is_a_400(warden: ThreadedWarden, config: dict[str, Any]) -> None:
    # Stored, it would count as an unused code (and keep a second factor alive) that never works.
    created = _import_with_password(warden, "lookup_secret", config)
    assert created.status == 400, created.data
    assert "needs a code" in created.json()["error"]["reason"]


def test_imported_totp_and_backup_codes_reach_aal2_and_the_secret_is_sealed(
    warden: ThreadedWarden, frontend: FrontendApi
) -> None:
    email, secret = _email(), pyotp.random_base32()
    url = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="Imported")
    created = urllib3.request(
        "POST",
        f"{warden.admin_url}/admin/identities",
        json={
            "schema_id": "default",
            "traits": {"email": email},
            "credentials": {
                "password": {"config": {"password": PASSWORD}},
                "totp": {"config": {"totp_url": url}},
                "lookup_secret": {"config": {"codes": [{"code": "imported1"}, {"code": "imported2"}]}},
            },
        },
    )
    assert created.status == 201, created.data
    identity_id = created.json()["id"]
    stored = warden.run(_identity_internal(warden).get_credential(identity_id, "totp"))
    assert secret not in str(stored["config"]), "an imported TOTP secret is encrypted too"
    stored = warden.run(_identity_internal(warden).get_credential(identity_id, "lookup_secret"))
    assert not {"imported1", "imported2"} & set(str(stored["config"]).split("'")), "imported codes are hashed at once"

    first = _password_login(frontend, email).session_token
    assert _submit_totp(frontend, _aal2_flow(frontend, first).id, first, pyotp.TOTP(secret).now()).session
    second = _password_login(frontend, email).session_token
    done = _submit_lookup(frontend, _aal2_flow(frontend, second).id, second, "imported2")
    assert done.session.authenticator_assurance_level == "aal2"
    third = _password_login(frontend, email).session_token
    status, body = api_error(lambda: _submit_lookup(frontend, _aal2_flow(frontend, third).id, third, "imported2"))
    assert status == 400 and message_ids(body, "lookup_secret") == [4000012]
    stored = warden.run(_identity_internal(warden).get_credential(identity_id, "lookup_secret"))
    assert not {"imported1", "imported2"} & set(str(stored["config"]).split("'")), "and still once one is spent"


def test_the_send_code_button_alone_sends_the_second_factor_code(warden: ThreadedWarden, frontend: FrontendApi) -> None:
    """Kratos's aal2 code form has no `method` node: its "Send code to …" buttons submit only
    `address` (and a browser's `csrf_token`), which Kratos's code method takes as its own when
    `mfa_enabled` (`strategy_login.go`: "In this special case we only expect `address` to be set").
    A Kratos UI posts the form as it is, so that body must send the code, not answer 4010002."""
    email = _email()
    _register(frontend, email)
    warden.run(_identity_internal(warden).mark_address_verified("email", email))
    token = _password_login(frontend, email).session_token
    flow = _aal2_flow(frontend, token)
    assert "method" not in node_names(flow), "the form carries no method: a UI cannot send one"

    def submit(body: dict[str, Any]) -> Any:
        return urllib3.request(
            "POST",
            f"{warden.public_url}/self-service/login?flow={flow.id}",
            json=body,
            headers={"X-Session-Token": token, "Accept": "application/json"},
        )

    sent = submit({"address": email})
    assert sent.status == 400 and sent.json()["state"] == "sent_email", sent.json()
    assert sent.json()["active"] == "code" and "code" in node_names(sent.json())
    done = submit({"method": "code", "code": _mailed_code(warden, email)})
    assert done.status == 200, done.json()
    assert frontend.to_session(x_session_token=token).authenticator_assurance_level == "aal2"


def test_a_body_with_only_an_address_is_no_second_factor_on_a_first_factor_login(
    warden: ThreadedWarden, frontend: FrontendApi
) -> None:
    flow = frontend.create_native_login_flow()
    answer = urllib3.request(
        "POST",
        f"{warden.public_url}/self-service/login?flow={flow.id}",
        json={"address": _email()},
        headers={"Accept": "application/json"},
    )
    assert answer.status == 400 and message_ids(answer.json()) == [4010002], answer.json()


def test_a_first_factor_does_not_complete_a_second_factor_login(frontend: FrontendApi) -> None:
    """Kratos's first-factor methods begin with `login.CheckAAL(f, aal1)`: a flow made with
    `aal=aal2` is not theirs, so the password there is 4010002, as no method, and neither the flow
    nor the session moves (Warden used to sign the password in again and close the flow)."""
    email = _email()
    token = _register(frontend, email)
    _pair_totp(frontend, token)
    token = _password_login(frontend, email).session_token
    flow = _aal2_flow(frontend, token)
    body = kratos.UpdateLoginFlowWithPasswordMethod(method="password", identifier=email, password=PASSWORD)
    status, answer = api_error(
        lambda: frontend.update_login_flow(flow.id, kratos.UpdateLoginFlowBody(body), x_session_token=token)
    )
    assert status == 400 and message_ids(answer) == [4010002], answer
    assert answer["state"] == "choose_method" and "totp_code" in node_names(answer)
