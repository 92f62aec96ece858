"""One-time secrets submitted several times at once (a double click, a retrying client, a link opened
by a mail scanner and its reader, someone who copied the request), on SQLite and PostgreSQL: each
must work once (ASVS V2/V3). Submissions sent at once all load their flow before any of them saves
it, so a secret kept in the flow is spent where the flow is stored, by a compare-and-set, and the
answer to a refused one is saved only over the flow as it was loaded. Codes kept in their own table
(login, registration, recovery and verification codes and links), TOTP steps and backup codes are
spent by conditional statements already (services/selfservice/codes.py, strategies/totp/replay.py,
the identity service's `swap_credential`)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import pytest
import urllib3
from sqlalchemy import MetaData, update

from services.selfservice.flows.flow import now
from services.selfservice.strategies.code.sender import RESEND_AFTER
from services.selfservice.tables import selfservice_tables
from shared.storage.database import Database
from tests.factories import ThreadedWarden, running_warden
from tests.integration.test_oidc import NATIVE_RETURN, _follow_fake, _provider, _to_provider
from tests.mail_helpers import code_in, mail_config, wait_for_mail
from tests.oidc.fake import FakeProvider
from tests.selfservice_helpers import (
    RETURN_URL,
    Browser,
    Response,
    create_identity,
    database,
    query_param,
    selfservice_settings,
)
from tests.smtp import SmtpServer
from tests.webauthn_authenticator import post_flow

AT_ONCE = 6
# Copies of one code, more than a flow's tries (the first spends it, whatever the count), spread over
# the time the winner takes to complete the flow: a copy refused then saved its answer after it.
CODE_AT_ONCE, CODE_SPREAD = 16, 0.005
ROUNDS = 5  # submissions race: a few rounds make the interleaving that went wrong likely
# How long after its code each flow's resend is sent: 0 to 40 ms, a quarter of a millisecond apart.
# One went wrong when it loaded the flow in the few milliseconds before the code completed it,
# somewhere in there (between 4 and 18 ms on this machine, a few flows in each run).
RESEND_OFFSETS = [i * 0.00025 for i in range(160)]
# The answer to a submission on a completed flow (submit.py, address_flow.py), Kratos's RetrySuccess.
COMPLETED = {"login": 4010007, "registration": 4040002, "recovery": 4060001, "verification": 4070002}
CIPHER_SECRET = "one-time-secrets-cipher-secret32"
T = TypeVar("T")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as running:
        yield running


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def warden(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer, fake: FakeProvider
) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("one-time-secrets")
    config = mail_config(smtp, use="code")
    provider = _provider("fake", "generic", fake, fake.issuer, scope=["openid", "email"])
    config["methods"]["oidc"] = {"enabled": True, "config": {"providers": [provider]}}
    config["flows"]["registration"]["after"]["oidc"] = {"hooks": [{"hook": "session"}]}
    config["methods"]["code"]["passwordless_enabled"] = True  # sign-in and sign-up by code
    with database(request.param, directory) as dsn:
        settings = selfservice_settings(
            directory,
            dsn,
            **config,
            secrets={"cookie": ["one-time-secrets-cookie-secret-0123456789"], "cipher": [CIPHER_SECRET]},
        )
        with running_warden(settings) as running:
            yield running


def _at_once(call: Callable[[], T], times: int = AT_ONCE, spread: float = 0.0) -> list[T]:
    """`call` made `times` times at the same moment, each from its own thread; with `spread`, the
    i-th call starts i × `spread` seconds later (copies that arrive while the first is answered)."""
    return _each_at_once([call] * times, spread)


def _each_at_once(calls: list[Callable[[], T]], spread: float = 0.0) -> list[T]:
    """Each of `calls` from its own thread, at the same moment; with `spread`, the i-th starts
    i × `spread` seconds later."""
    start = threading.Barrier(len(calls))

    def aligned(i: int) -> T:
        start.wait()
        time.sleep(i * spread)
        return calls[i]()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(aligned, range(len(calls))))


def _new_social_user(fake: FakeProvider) -> None:
    fake.subject, fake.email = f"once-{uuid.uuid4().hex[:10]}", f"once-{uuid.uuid4().hex[:10]}@example.com"


# --- native social sign-in: the session token exchange ------------------------------------------


def _native_sign_up(warden: ThreadedWarden, fake: FakeProvider) -> dict[str, str]:
    """An app's social sign-up finished in the system browser: the two halves of the exchange."""
    _new_social_user(fake)
    created = urllib3.request(
        "GET",
        f"{warden.public_url}/self-service/registration/api",
        fields={"return_session_token_exchange_code": "true", "return_to": NATIVE_RETURN},
    )
    flow = created.json()
    started = urllib3.request(
        "POST",
        f"{warden.public_url}/self-service/registration?flow={flow['id']}",
        json={"method": "oidc", "provider": "fake"},
        headers={"Accept": "application/json"},
        redirect=False,
    )
    assert started.status == 422, started.data
    back = Browser(warden.public_url).get(_follow_fake(started.json()["redirect_browser_to"]))
    assert back.status == 303 and back.location.startswith(f"{NATIVE_RETURN}?code="), back
    return {"init_code": flow["session_token_exchange_code"], "return_to_code": query_param(back.location, "code")}


def test_an_exchange_code_gives_the_session_token_once(warden: ThreadedWarden, fake: FakeProvider) -> None:
    """Each exchange loaded the flow, found the token and saved the flow without it: all those that
    loaded it before the first save were handed the session token."""
    for _ in range(ROUNDS):
        exchange = _native_sign_up(warden, fake)
        answers = _at_once(
            partial(urllib3.request, "GET", f"{warden.public_url}/sessions/token-exchange", fields=exchange)
        )
        assert sorted(a.status for a in answers) == [200] + [404] * (AT_ONCE - 1)


# --- social sign-in: the callback's state --------------------------------------------------------


def test_a_callback_opened_at_once_spends_its_state_once(warden: ThreadedWarden, fake: FakeProvider) -> None:
    """The state names the flow's pending dance, spent by the first callback. Each callback loaded
    the flow, found the dance pending and sent the authorization code to the provider: one that
    revokes what it issued for a code used twice (RFC 6749 §4.1.2) undid the winner's sign-in."""
    for _ in range(ROUNDS):
        _new_social_user(fake)
        browser = Browser(warden.public_url)
        back = _follow_fake(_to_provider(browser, "registration", "fake"))
        answers = _at_once(partial(_open_in_a_copy, browser, back))
        code = query_param(back, "code")
        assert [r["code"] for r in fake.token_requests].count(code) == 1
        assert [a.location for a in answers].count(RETURN_URL) == 1, answers


def _open_in_a_copy(browser: Browser, url: str) -> Response:
    """`url` opened with `browser`'s cookies, as a second tab (or a retry) of the same browser."""
    copy = Browser(browser.public_url)
    copy.cookies = dict(browser.cookies)
    return copy.get(url)


# --- recovery and verification codes ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["verification", "recovery"])
def test_a_code_submitted_at_once_leaves_its_flow_completed(
    warden: ThreadedWarden, smtp: SmtpServer, kind: str
) -> None:
    """The code is spent once (codes.py), but each refused copy saved the flow as it had loaded it,
    before the winner completed it: one saved after put the flow back to `sent_email`, where its user
    was told the code was wrong and the flow could send a code and succeed again."""
    for _ in range(ROUNDS):
        email = f"once-{uuid.uuid4().hex[:10]}@example.com"
        create_identity(warden.admin_url, email)
        flow = urllib3.request("GET", f"{warden.public_url}/self-service/{kind}/api").json()
        status, _ = post_flow(warden.public_url, kind, flow["id"], {"method": "code", "email": email})
        assert status == 200
        body = {"method": "code", "code": code_in(wait_for_mail(smtp, email)[0])}
        answers = _at_once(partial(post_flow, warden.public_url, kind, flow["id"], body), CODE_AT_ONCE, CODE_SPREAD)
        completed = [a for status, a in answers if status == 200 and a.get("state") == "passed_challenge"]
        assert len(completed) == 1, [(s, a.get("state")) for s, a in answers]
        stored = urllib3.request("GET", f"{warden.public_url}/self-service/{kind}/flows?id={flow['id']}").json()
        assert stored["state"] == "passed_challenge", stored["ui"]["messages"]


@pytest.mark.parametrize("kind", ["verification", "recovery"])
def test_a_resend_sent_with_the_code_leaves_its_flow_completed(
    warden: ThreadedWarden, smtp: SmtpServer, kind: str
) -> None:
    """A resend (the address again) loaded the flow before the code completed it and saved its copy
    after: the flow was back at `sent_email`, with a new code mailed that could complete it again.
    Copies of the resend are spread over the time the code takes (each sends a code: these flows
    have no resend interval)."""
    completed = 0
    for _ in range(ROUNDS):
        email = f"resend-{uuid.uuid4().hex[:10]}@example.com"
        create_identity(warden.admin_url, email)
        flow = urllib3.request("GET", f"{warden.public_url}/self-service/{kind}/api").json()
        resend = {"method": "code", "email": email}
        assert post_flow(warden.public_url, kind, flow["id"], resend)[0] == 200
        code = {"method": "code", "code": code_in(wait_for_mail(smtp, email)[0])}
        calls = [partial(post_flow, warden.public_url, kind, flow["id"], code)]
        calls += [partial(post_flow, warden.public_url, kind, flow["id"], resend)] * (CODE_AT_ONCE - 1)
        (status, answer), *resent = _each_at_once(calls, CODE_SPREAD)
        if answer.get("state") == "passed_challenge":  # else a resend came first, and replaced the code
            completed += 1
            _assert_still_completed(warden, kind, flow["id"], resent, sent=(200, "sent_email"))
    assert completed, "the code never came first"


@pytest.mark.parametrize("kind", ["login", "registration"])
def test_a_sign_in_code_resent_with_the_code_leaves_its_flow_completed(
    warden: ThreadedWarden, smtp: SmtpServer, kind: str
) -> None:
    """The same for a sign-in or sign-up by code (sender.py), once the flow's resend interval has
    passed. One resend per flow can send (the next ones wait for the interval again), so each flow
    gets one, sent a little later after its code than the flow's before."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        flows = list(pool.map(lambda _: _code_sent(warden, smtp, kind), RESEND_OFFSETS))
    _resend_interval_passed(warden, [flow_id for flow_id, _, _ in flows])
    completed = 0
    for (flow_id, code, resend), offset in zip(flows, RESEND_OFFSETS, strict=True):
        calls = [partial(post_flow, warden.public_url, kind, flow_id, body) for body in (code, resend)]
        (status, _), resent = _each_at_once(calls, offset)
        if status == 200:  # else the resend came first, and replaced the code
            completed += 1
            _assert_still_completed(warden, kind, flow_id, [resent], sent=(400, "sent_email"))
    assert completed, "the code never came first"


def _code_sent(warden: ThreadedWarden, smtp: SmtpServer, kind: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A flow of `kind` that sent a code to a new address: its id, the code's submission and a resend's."""
    email = f"resend-{uuid.uuid4().hex[:10]}@example.com"
    if kind == "login":
        create_identity(warden.admin_url, email)
        asked: dict[str, Any] = {"method": "code", "identifier": email}
    else:
        asked = {"method": "code", "traits": {"email": email}}
    flow = urllib3.request("GET", f"{warden.public_url}/self-service/{kind}/api").json()
    status, sent = post_flow(warden.public_url, kind, flow["id"], asked)
    assert status == 400 and sent["state"] == "sent_email", sent
    return flow["id"], {**asked, "code": code_in(wait_for_mail(smtp, email)[0])}, {**asked, "resend": "code"}


def _assert_still_completed(
    warden: ThreadedWarden, kind: str, flow_id: str, resent: list[tuple[int, Any]], sent: tuple[int, str]
) -> None:
    """The flow the code completed is still completed, and each resend sent its code before (`sent`)
    or was answered as a submission to the completed flow is."""
    stored = urllib3.request("GET", f"{warden.public_url}/self-service/{kind}/flows?id={flow_id}").json()
    assert stored["state"] == "passed_challenge", stored["ui"]["messages"]
    for status, answer in resent:
        messages = [m["id"] for m in answer["ui"]["messages"]]
        assert (status, answer["state"]) == sent or (
            (status, answer["state"]) == (400, "passed_challenge") and messages == [COMPLETED[kind]]
        ), (status, answer["state"], messages)


def _resend_interval_passed(warden: ThreadedWarden, flow_ids: list[str]) -> None:
    """The flows' codes made `RESEND_AFTER` ago, as if their users had waited that long to ask again."""
    codes = selfservice_tables(MetaData()).codes

    async def age() -> None:
        db = Database.from_dsn(warden.process.settings.dsn)
        try:
            async with db.transaction() as conn:
                await conn.execute(
                    update(codes).where(codes.c.flow_id.in_(flow_ids)).values(created_at=now() - RESEND_AFTER)
                )
        finally:
            await db.dispose()

    asyncio.run(age())
