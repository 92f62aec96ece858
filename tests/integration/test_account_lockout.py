"""Checklist BF-1 (NIST SP 800-63B §3.2.2, "no more than 100" consecutive failures per account), on
both engines: 100 wrong passwords for one account, each from a new client address (a botnet, named
by a trusted proxy's X-Forwarded-For), and the 101st check is refused, the right password too, from
any address. The lock ends on time, forget_after after the failure that reached it, whatever is
tried meanwhile; or at once when the owner redeems a recovery code, which an attacker's wrong codes
cannot stop. Then the count starts again. An address without an account locks alike, and guesses
at codes are capped the same way, apart from passwords."""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path
from typing import Any

import urllib3

from services.identity.throttle import FREE_FAILURES, LOCKOUT_AFTER
from tests.code_helpers import CodeStack, Native, SmsSink, code_config
from tests.factories import EMAIL_SCHEMA, running_warden
from tests.selfservice_helpers import PASSWORD, UI, Response, create_identity, message_ids, selfservice_settings
from tests.smtp import SmtpServer

WRONG_CODE = "000000"
_addresses = (f"203.0.{n // 250}.{n % 250 + 1}" for n in count())


@contextmanager
def _stack(
    directory: Path,
    dsn: str,
    smtp: SmtpServer,
    *,
    with_username: bool = False,
    with_phone: bool = False,
    **checks: Any,
) -> Iterator[CodeStack]:
    """No per-IP windows (a botnet has an address per guess) and no delay past the ceiling, which
    would only slow the tests down: what is left is the per-account count."""
    sms = SmsSink()
    config = code_config(smtp, sms)
    config["flows"]["recovery"] = {"enabled": True, "use": "code", "ui_url": f"{UI}/recovery"}
    if with_username:  # a second password identifier beside the email address
        schema = {**copy.deepcopy(EMAIL_SCHEMA), "$id": "https://warden.test/schemas/username-too.json"}
        password_identifier = {"ory.sh/kratos": {"credentials": {"password": {"identifier": True}}}}
        schema["properties"]["traits"]["properties"]["username"] = {"type": "string", **password_identifier}
        (directory / "email-and-username.schema.json").write_text(json.dumps(schema))
        config["identity"] = {
            "default_schema_id": "default",
            "schemas": [{"id": "default", "url": f"file://{directory}/email-and-username.schema.json"}],
        }
    if with_phone:  # a second code address beside the email address, by SMS
        schema = {**copy.deepcopy(EMAIL_SCHEMA), "$id": "https://warden.test/schemas/phone-too.json"}
        sms_code = {"ory.sh/kratos": {"credentials": {"code": {"identifier": True, "via": "sms"}}}}
        schema["properties"]["traits"]["properties"]["phone"] = {"type": "string", "format": "tel", **sms_code}
        (directory / "email-and-phone.schema.json").write_text(json.dumps(schema))
        config["identity"] = {
            "default_schema_id": "default",
            "schemas": [{"id": "default", "url": f"file://{directory}/email-and-phone.schema.json"}],
        }
    settings = selfservice_settings(
        directory,
        dsn,
        rate_limits={"enabled": False, "password_checks": {"ceiling_delay": "0s", **checks}},
        serve={"public": {"trusted_proxies": ["127.0.0.1"]}},
        **config,
    )
    with running_warden(settings) as warden:
        yield CodeStack(warden, smtp, sms)
    sms.close()


def _from(address: str | None = None) -> dict[str, str]:
    return {"X-Forwarded-For": address or next(_addresses)}


def _login(native: Native, email: str, password: str, address: str | None = None) -> Response:
    headers = _from(address)
    flow = native.get("/self-service/login/api", headers=headers).json()
    body = {"method": "password", "identifier": email, "password": password}
    return native.post(f"/self-service/login?flow={flow['id']}", body, headers=headers)


def _fail(native: Native, email: str, times: int) -> None:
    for attempt in range(1, times + 1):
        answer = _login(native, email, "wrong guess")
        assert answer.status == 400, f"wrong guess {attempt} of {times}: {answer.status} {answer.data!r}"


def _refused(native: Native, email: str) -> int:
    """The right password, refused: its Retry-After."""
    answer = _login(native, email, PASSWORD)
    assert answer.status == 429, answer.data
    assert message_ids(answer.json()) == [4290001], "the flow says when to retry"
    return int(answer.headers["Retry-After"])


def test_the_101st_check_is_refused_from_any_address_until_the_lock_ends(
    tmp_path: Path, any_dsn: str, smtp: SmtpServer
) -> None:
    forget = 8  # seconds: counts, and the lock, are forgotten this long after the last counted failure
    with _stack(tmp_path, any_dsn, smtp, forget_after=f"{forget}s") as stack:
        email = "botnet-target@example.com"
        create_identity(stack.warden.admin_url, email)
        native = stack.native
        _fail(native, email, LOCKOUT_AFTER)
        assert 1 <= _refused(native, email) <= forget
        time.sleep(forget / 2)
        assert _refused(native, email) <= forget / 2 + 1, "a refused check does not extend the lock"
        time.sleep(forget / 2 + 1)  # past the lock's end, not past the refused check's `forget`
        assert _login(native, email, PASSWORD).status == 200, "the lock ended on time"
        _fail(native, email, LOCKOUT_AFTER - 1)  # the success started the count again from zero
        assert _login(native, email, PASSWORD).status == 200


def _recovery(native: Native, email: str, address: str) -> str:
    flow = native.get("/self-service/recovery/api", headers=_from(address)).json()
    sent = native.post(f"/self-service/recovery?flow={flow['id']}", {"method": "code", "email": email}, _from(address))
    assert sent.status == 200, sent.data
    return str(flow["id"])


def _redeem(native: Native, flow_id: str, code: str, address: str) -> Response:
    return native.post(f"/self-service/recovery?flow={flow_id}", {"method": "code", "code": code}, _from(address))


def test_the_owners_recovery_code_ends_the_lock_whatever_an_attacker_guesses(
    tmp_path: Path, any_dsn: str, smtp: SmtpServer
) -> None:
    with _stack(tmp_path, any_dsn, smtp) as stack:  # the lock lasts the default hour: only the code ends it
        email = f"owner-{uuid.uuid4().hex[:8]}@example.com"  # its own inbox: the SMTP server serves every engine
        create_identity(stack.warden.admin_url, email)
        native = stack.native
        _fail(native, email, LOCKOUT_AFTER)
        _refused(native, email)
        attacker, owner = "198.51.100.66", "192.0.2.10"
        flow_id = _recovery(native, email, owner)
        code = stack.mailed_code(email)  # read before the attacker's flow sends one: mails may cross
        guessed = _recovery(native, email, attacker)  # a flow of the attacker's, for the owner's address
        for _ in range(3):
            assert _redeem(native, guessed, WRONG_CODE, attacker).status == 200  # a wrong code: the flow
        recovered = _redeem(native, flow_id, code, owner)
        assert recovered.status == 200 and recovered.json()["state"] == "passed_challenge", recovered.data
        assert _login(native, email, PASSWORD).status == 200, "the owner's inbox unlocked the password"


def test_a_recovery_code_ends_the_lock_of_every_identifier_of_the_account(
    tmp_path: Path, any_dsn: str, smtp: SmtpServer
) -> None:
    with _stack(tmp_path, any_dsn, smtp, with_username=True) as stack:
        email, username = f"named-{uuid.uuid4().hex[:8]}@example.com", f"user{uuid.uuid4().hex[:8]}"
        body = {
            "schema_id": "default",
            "traits": {"email": email, "username": username},
            "credentials": {"password": {"config": {"password": PASSWORD}}},
        }
        assert urllib3.request("POST", f"{stack.warden.admin_url}/admin/identities", json=body).status == 201
        native = stack.native
        _fail(native, username, LOCKOUT_AFTER // 2)  # the account's cap, spread over both identifiers
        _fail(native, email, LOCKOUT_AFTER - LOCKOUT_AFTER // 2)
        _refused(native, username)
        _refused(native, email)
        flow_id = _recovery(native, email, "192.0.2.30")
        recovered = _redeem(native, flow_id, stack.mailed_code(email), "192.0.2.30")
        assert recovered.status == 200, recovered.data
        assert _login(native, username, PASSWORD).status == 200, "the code sent to the email unlocked the username"


def test_an_address_without_an_account_locks_alike(tmp_path: Path, any_dsn: str, smtp: SmtpServer) -> None:
    """Neither the lock nor the code guesses after it tell whether an address has an account."""
    with _stack(tmp_path, any_dsn, smtp, ceiling=4, lockout_after=8) as stack:
        native = stack.native
        known, unknown = "known-locked@example.com", "nobody-locked@example.com"
        create_identity(stack.warden.admin_url, known)
        answers: dict[str, list[int]] = {}
        for email in (known, unknown):
            passwords = [_login(native, email, "wrong guess").status for _ in range(10)]
            flow_id = _recovery(native, email, "198.51.100.77")
            codes = [_redeem(native, flow_id, WRONG_CODE, "198.51.100.77").status for _ in range(3)]
            answers[email] = passwords + codes
        assert answers[known] == answers[unknown] == [400] * 8 + [429, 429] + [200, 200, 200], answers


def test_code_guesses_are_capped_apart_from_passwords(tmp_path: Path, any_dsn: str, smtp: SmtpServer) -> None:
    """OTP-4 and BF-1 for codes: guesses across new flows and new client addresses add up per
    address, and past the cap the right code is refused too; the password, counted apart, still works."""
    with _stack(tmp_path, any_dsn, smtp, lockout_after=10) as stack:
        email = f"coded-{uuid.uuid4().hex[:8]}@example.com"
        create_identity(stack.warden.admin_url, email)
        native = stack.native
        for _ in range(2):  # a flow, five wrong guesses from five addresses, and again
            flow_id = _recovery(native, email, next(_addresses))
            for _ in range(5):
                assert _redeem(native, flow_id, WRONG_CODE, next(_addresses)).status == 200  # a wrong code: the flow
        owner = "192.0.2.20"
        flow_id = _recovery(native, email, owner)
        refused = _redeem(native, flow_id, stack.mailed_code(email, count=3), owner)
        assert refused.status == 429 and message_ids(refused.json()) == [4290001], refused.data
        assert _login(native, email, PASSWORD).status == 200, "passwords are counted apart"


def test_a_sign_up_code_to_ones_own_phone_does_not_end_the_lock_of_the_email_beside_it(
    tmp_path: Path, any_dsn: str, smtp: SmtpServer
) -> None:
    """A sign-up by code sends a code to each code address of the traits, and a guess counts against
    each (code_owner.py). The code that comes back proves its own address alone: typed beside a
    locked account's email, the attacker's own phone must not end that email's password lock."""
    with _stack(tmp_path, any_dsn, smtp, with_phone=True) as stack:
        email, phone = f"locked-{uuid.uuid4().hex[:8]}@example.com", "+4915112345678"
        create_identity(stack.warden.admin_url, email)
        native = stack.native
        _fail(native, email, LOCKOUT_AFTER)
        _refused(native, email)
        traits = {"email": email, "phone": phone}
        headers = _from("198.51.100.88")
        flow = native.get("/self-service/registration/api", headers=headers).json()
        sent = native.post(
            f"/self-service/registration?flow={flow['id']}", {"method": "code", "traits": traits}, headers
        )
        assert sent.status == 400 and sent.json()["state"] == "sent_email", sent.data
        body = {"method": "code", "traits": traits, "code": stack.texted_code(phone)}
        taken = native.post(f"/self-service/registration?flow={flow['id']}", body, headers)
        assert taken.status == 400 and message_ids(taken.json()) == [4000007], taken.data  # the email has an account
        _refused(native, email)


def _sign_in_code_sent(native: Native, identifier: str) -> str:
    """A passwordless sign-in flow that has sent its code for `identifier` (known or not): its id."""
    headers = _from()
    flow = native.get("/self-service/login/api", headers=headers).json()
    body = {"method": "code", "identifier": identifier}
    sent = native.post(f"/self-service/login?flow={flow['id']}", body, headers)
    assert sent.status == 400 and sent.json()["state"] == "sent_email", sent.data
    return str(flow["id"])


def _sign_in_guess(
    native: Native, flow_id: str, identifier: str, code: str = WRONG_CODE, client: str | None = None
) -> Response:
    body = {"method": "code", "identifier": identifier, "code": code}
    return native.post(f"/self-service/login?flow={flow_id}", body, _from(client))


def test_sign_in_code_guesses_count_per_account_whichever_identifier_is_typed(
    tmp_path: Path, any_dsn: str, smtp: SmtpServer
) -> None:
    """A sign-in code goes to the account an identifier names: guesses spread over its email and its
    phone reach the cap at the total that guesses at one of them do, the owner's right code refused
    past it. An identifier without an account answers as one with an account does, guess by guess."""
    cap = 6
    with _stack(tmp_path, any_dsn, smtp, with_phone=True, lockout_after=cap) as stack:
        email, phone = f"spread-{uuid.uuid4().hex[:8]}@example.com", "+4915112340001"
        body = {"schema_id": "default", "traits": {"email": email, "phone": phone}}
        assert urllib3.request("POST", f"{stack.warden.admin_url}/admin/identities", json=body).status == 201
        native = stack.native
        for identifier in (email, phone):  # half the cap each, from a new client every guess
            flow_id = _sign_in_code_sent(native, identifier)
            for guess in range(cap // 2):
                answer = _sign_in_guess(native, flow_id, identifier)
                assert answer.status == 400, f"{identifier}, guess {guess + 1}: {answer.data!r}"
        owner = _sign_in_code_sent(native, email)
        refused = _sign_in_guess(native, owner, email, stack.mailed_code(email, count=2))
        assert refused.status == 429 and message_ids(refused.json()) == [4290001], refused.data
        refused = _sign_in_guess(native, _sign_in_code_sent(native, phone), phone, stack.texted_code(phone, count=2))
        assert refused.status == 429, "the phone's guesses were the account's"

        known = f"known-{uuid.uuid4().hex[:8]}@example.com"
        create_identity(stack.warden.admin_url, known)
        answers: dict[str, list[int]] = {}
        for identifier in (known, f"nobody-{uuid.uuid4().hex[:8]}@example.com"):
            guessed = []
            for _ in range(2):  # a flow allows five tries
                flow_id = _sign_in_code_sent(native, identifier)
                guessed += [_sign_in_guess(native, flow_id, identifier).status for _ in range(cap // 2 + 1)]
            answers[identifier] = guessed
        assert list(answers.values()) == [[400] * cap + [429] * 2] * 2, answers


def test_a_clients_block_after_sign_in_code_guesses_does_not_show_on_the_accounts_other_identifiers(
    tmp_path: Path, any_dsn: str, smtp: SmtpServer
) -> None:
    """A client's own count stays per identifier typed: blocked after its free guesses for the email,
    it is not blocked for the phone beside it, as it would not be for an unrelated identifier; a block
    that showed there would tell that the two are one account's, after a handful of guesses."""
    with _stack(tmp_path, any_dsn, smtp, with_phone=True) as stack:
        email, phone = f"linked-{uuid.uuid4().hex[:8]}@example.com", "+4915112340002"
        body = {"schema_id": "default", "traits": {"email": email, "phone": phone}}
        assert urllib3.request("POST", f"{stack.warden.admin_url}/admin/identities", json=body).status == 201
        native, client = stack.native, "198.51.100.99"
        for guesses in (3, FREE_FAILURES + 1 - 3):  # a flow allows five tries; the block follows the sixth
            flow_id = _sign_in_code_sent(native, email)
            assert [_sign_in_guess(native, flow_id, email, client=client).status for _ in range(guesses)] == [
                400
            ] * guesses
        assert _sign_in_guess(native, flow_id, email, client=client).status == 429, "the client is blocked"
        assert _sign_in_guess(native, _sign_in_code_sent(native, phone), phone, client=client).status == 400
