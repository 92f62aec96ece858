"""Checklist BF-1 (NIST SP 800-63B §3.2.2, "no more than 100" consecutive failures per account), on
both engines: 100 wrong passwords for one account, each from a new client address (a botnet, named
by a trusted proxy's X-Forwarded-For), and the 101st check is refused, the right password too, from
any address. The lock ends on time, forget_after after the failure that reached it, whatever is
tried meanwhile; or at once when the owner redeems a recovery code. Then the count starts again."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest

from services.identity.throttle import LOCKOUT_AFTER
from tests.code_helpers import CodeStack, Native, SmsSink, code_config
from tests.factories import running_warden
from tests.selfservice_helpers import PASSWORD, UI, Response, create_identity, message_ids, selfservice_settings
from tests.smtp import SmtpServer, serving

FORGET_SECONDS = 4  # counts, and the lock, are forgotten this long after the last counted failure
_addresses = (f"203.0.{n // 250}.{n % 250 + 1}" for n in count())


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    yield from serving()


@pytest.fixture
def stack(tmp_path: Path, any_dsn: str, smtp: SmtpServer) -> Iterator[CodeStack]:
    sms = SmsSink()
    config = code_config(smtp, sms)
    config["flows"]["recovery"] = {"enabled": True, "use": "code", "ui_url": f"{UI}/recovery"}
    # No per-IP windows (a botnet has an address per guess) and no delay past the ceiling, which would
    # only slow this test down: what is left is the per-account count.
    checks = {"ceiling_delay": "0s", "forget_after": f"{FORGET_SECONDS}s"}
    settings = selfservice_settings(
        tmp_path,
        any_dsn,
        rate_limits={"enabled": False, "password_checks": checks},
        serve={"public": {"trusted_proxies": ["127.0.0.1"]}},
        **config,
    )
    with running_warden(settings) as warden:
        yield CodeStack(warden, smtp, sms)
    sms.close()


def _login(native: Native, email: str, password: str) -> Response:
    address = {"X-Forwarded-For": next(_addresses)}
    flow = native.get("/self-service/login/api", headers=address).json()
    body = {"method": "password", "identifier": email, "password": password}
    return native.post(f"/self-service/login?flow={flow['id']}", body, headers=address)


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


def test_the_101st_check_is_refused_from_any_address_until_the_lock_ends(stack: CodeStack) -> None:
    email = "botnet-target@example.com"
    create_identity(stack.warden.admin_url, email)
    native = stack.native
    _fail(native, email, LOCKOUT_AFTER)
    assert 1 <= _refused(native, email) <= FORGET_SECONDS
    time.sleep(FORGET_SECONDS / 2)
    assert _refused(native, email) <= FORGET_SECONDS / 2 + 1, "a refused check does not extend the lock"
    time.sleep(FORGET_SECONDS / 2 + 0.5)  # past the lock's end, not past the refused check's FORGET_SECONDS
    assert _login(native, email, PASSWORD).status == 200, "the lock ended on time"
    _fail(native, email, LOCKOUT_AFTER - 1)  # the success started the count again from zero
    assert _login(native, email, PASSWORD).status == 200


def test_a_recovery_code_ends_the_lock(stack: CodeStack) -> None:
    email = f"owner-{uuid.uuid4().hex[:8]}@example.com"  # its own inbox: the SMTP server serves every engine
    create_identity(stack.warden.admin_url, email)
    native = stack.native
    _fail(native, email, LOCKOUT_AFTER)
    _refused(native, email)
    flow = native.get("/self-service/recovery/api").json()
    sent = native.post(f"/self-service/recovery?flow={flow['id']}", {"method": "code", "email": email})
    assert sent.status == 200, sent.data
    code = stack.mailed_code(email)
    recovered = native.post(f"/self-service/recovery?flow={flow['id']}", {"method": "code", "code": code})
    assert recovered.status == 200 and recovered.json()["state"] == "passed_challenge", recovered.data
    assert _login(native, email, PASSWORD).status == 200, "the owner's inbox unlocked the password"
