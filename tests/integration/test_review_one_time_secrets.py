"""One-time secrets submitted several times at once (a double click, a retrying client, a link opened
by a mail scanner and its reader, someone who copied the request), on SQLite and PostgreSQL: each
must work once (ASVS V2/V3). Submissions sent at once all load their flow before any of them saves
it, so a secret kept in the flow is spent where the flow is stored, by a compare-and-set, and the
answer to a refused one is saved only over the flow as it was loaded. Codes kept in their own table
(login, registration, recovery and verification codes and links), TOTP steps and backup codes are
spent by conditional statements already (services/selfservice/codes.py, strategies/totp/replay.py,
the identity service's `swap_credential`)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

import pytest
import urllib3

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
from tests.smtp import SmtpServer, serving
from tests.webauthn_authenticator import post_flow

AT_ONCE = 6
# Copies of one code, more than a flow's tries (the first spends it, whatever the count), spread over
# the time the winner takes to complete the flow: a copy refused then saved its answer after it.
CODE_AT_ONCE, CODE_SPREAD = 16, 0.005
ROUNDS = 5  # submissions race: a few rounds make the interleaving that went wrong likely
CIPHER_SECRET = "one-time-secrets-cipher-secret32"
T = TypeVar("T")


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    yield from serving()


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
    start = threading.Barrier(times)

    def aligned(i: int) -> T:
        start.wait()
        time.sleep(i * spread)
        return call()

    with ThreadPoolExecutor(max_workers=times) as pool:
        return list(pool.map(aligned, range(times)))


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
