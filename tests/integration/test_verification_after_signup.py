"""After a sign-up with the `show_verification_ui` hook, the verification page asks for the code
(Kratos's flow in its `sent_email` state, the code on its way), not for the address just typed:
through the built-in UI and through the API. The code itself is mailed once, from the committed
`identity.created` event (review finding 9), however late that is.

To see the page before the mail goes, the test holds the codes table in PostgreSQL (reads go on,
no code can be issued) while the user signs up, as a slow consumer or a busy bus would."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _fresh_pg_database, require_server
from tests.factories import ThreadedWarden, running_warden, settings_for
from tests.integration.test_builtin_ui import UI, open_page, submit, ui_config
from tests.mail_folder import mails_to, wait_for_mails
from tests.mail_helpers import code_in
from tests.selfservice_helpers import PASSWORD, Browser, node

SENT = "An email containing a verification code has been sent to the email address you provided."


@pytest.fixture(scope="module")
def dsn() -> Iterator[str]:
    require_server("PostgreSQL", "127.0.0.1", 5432)
    yield from _fresh_pg_database()


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory, dsn: str) -> Iterator[ThreadedWarden]:
    directory: Path = tmp_path_factory.mktemp("verification-after-signup")
    config: dict[str, Any] = ui_config()
    flows = config["selfservice"]["flows"]
    flows["verification"]["enabled"] = True
    flows["registration"]["after"] = {"password": {"hooks": [{"hook": "session"}, {"hook": "show_verification_ui"}]}}
    config["selfservice"]["methods"] = {"code": {"enabled": True}, "password": {"enabled": True}}
    with running_warden(settings_for(directory, dsn, config)) as running:
        yield running


@pytest.fixture
def mail_dir(warden: ThreadedWarden) -> Path:
    return Path(warden.process.settings.get("services.courier.mail_dir"))


@contextmanager
def no_code_issued(warden: ThreadedWarden, dsn: str) -> Iterator[None]:
    """While open, a code waits to be issued (and so its mail to be sent); everything else goes on."""
    import asyncpg

    conn = warden.run(asyncpg.connect(dsn))
    try:
        warden.run(conn.execute("BEGIN; LOCK TABLE selfservice_codes IN EXCLUSIVE MODE"))
        yield
    finally:
        warden.run(conn.close())  # the lock goes with the transaction


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _sign_up_through_the_ui(browser: Browser, email: str) -> str:
    """The registration form filled and sent; where the browser is sent next."""
    _, page = open_page(browser, "/ui/registration")
    registered = submit(browser, page.form("traits.email"), {"traits.email": email, "password": PASSWORD})
    assert registered.status == 303, registered
    return registered.location


def _mailed_once(warden: ThreadedWarden, mail_dir: Path, email: str) -> None:
    """Exactly one mail to `email`, once a later sign-up's mail has come (the events are handled in
    order, so a second one to `email` would have been sent by then)."""
    marker = _email("marker")
    _sign_up_through_the_ui(Browser(warden.public_url), marker)
    wait_for_mails(mail_dir, marker)
    assert len(mails_to(mail_dir, email)) == 1


def test_the_ui_lands_on_the_code_form_for_the_address_just_registered(
    warden: ThreadedWarden, dsn: str, mail_dir: Path
) -> None:
    email, browser = _email("ui"), Browser(warden.public_url)
    with no_code_issued(warden, dsn):
        location = _sign_up_through_the_ui(browser, email)
        assert location.startswith(f"{UI}verification?flow="), location
        _, page = open_page(browser, location)
        assert mails_to(mail_dir, email) == [], "the code is still on its way"
    assert "Verify your account" in page.text and SENT in page.text
    code_form = page.form("code")
    assert not [i for i in code_form["inputs"] if i.get("type") == "email"], "the address is not asked for again"
    assert [b["value"] for b in code_form["buttons"] if b["name"] == "email"] == [email], "resend, to that address"

    [mail] = wait_for_mails(mail_dir, email)
    done = submit(browser, code_form, {"code": code_in(mail)})
    assert done.status == 303, done
    _, after = open_page(browser, done.location)
    assert "You successfully verified your email address." in after.text
    _mailed_once(warden, mail_dir, email)


def test_the_api_answer_points_to_a_flow_already_in_sent_email(
    warden: ThreadedWarden, dsn: str, mail_dir: Path
) -> None:
    email, spa = _email("spa"), Browser(warden.public_url, json=True)
    with no_code_issued(warden, dsn):
        registered = _sign_up_as_spa(spa, email)
        [shown] = [c for c in registered["continue_with"] if c["action"] == "show_verification_ui"]
        assert shown["flow"]["verifiable_address"] == email
        fetched = spa.get(f"/self-service/verification/flows?id={shown['flow']['id']}")
        assert mails_to(mail_dir, email) == [], "the code is still on its way"
    assert fetched.status == 200, fetched
    verification = fetched.json()
    assert verification["state"] == "sent_email"
    assert [m["id"] for m in verification["ui"]["messages"]] == [1080003]
    assert node(verification, "code")["attributes"]["type"] == "text"
    resend = node(verification, "email")["attributes"]
    assert resend["type"] == "submit" and resend["value"] == email, "resend, to the address just registered"

    [mail] = wait_for_mails(mail_dir, email)
    verified = spa.post(
        verification["ui"]["action"],
        {
            "csrf_token": node(verification, "csrf_token")["attributes"]["value"],
            "method": "code",
            "code": code_in(mail),
        },
    )
    assert verified.status == 200 and verified.json()["state"] == "passed_challenge", verified
    _mailed_once(warden, mail_dir, email)


def _sign_up_as_spa(spa: Browser, email: str, init_query: str = "") -> dict[str, Any]:
    started = spa.get(f"/self-service/registration/browser{init_query}")
    assert started.status == 200, started
    flow = started.json()
    body = {
        "csrf_token": node(flow, "csrf_token")["attributes"]["value"],
        "method": "password",
        "traits": {"email": email},
        "password": PASSWORD,
    }
    registered = spa.post(flow["ui"]["action"], body)
    assert registered.status == 200, registered
    answer: dict[str, Any] = registered.json()
    return answer


def test_the_session_hook_runs_last_whatever_its_place_in_the_config(warden: ThreadedWarden) -> None:
    """Kratos's `getHooks` moves `session` to the end of the list (the quickstart's order is
    `session`, `show_verification_ui`): an app gets the verification item before the session token,
    and a SPA the redirect Kratos adds before any hook runs, then the verification item."""
    native = Browser(warden.public_url, json=True)  # JSON, and no cookie is ever set for an API flow
    flow = native.get("/self-service/registration/api").json()
    body = {"method": "password", "traits": {"email": _email("app")}, "password": PASSWORD}
    registered = native.post(flow["ui"]["action"], body)
    assert registered.status == 200, registered
    actions = [c["action"] for c in registered.json()["continue_with"]]
    assert actions == ["show_verification_ui", "set_ory_session_token"]

    answer = _sign_up_as_spa(Browser(warden.public_url, json=True), _email("spa-order"))
    assert [c["action"] for c in answer["continue_with"]] == ["redirect_browser_to", "show_verification_ui"]


def _signed_up_with(warden: ThreadedWarden, init_query: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A SPA's sign-up from a flow started with `init_query`: the answer, and the verification flow it shows."""
    spa = Browser(warden.public_url, json=True)
    answer = _sign_up_as_spa(spa, _email("after"), init_query)
    [shown] = [c for c in answer["continue_with"] if c["action"] == "show_verification_ui"]
    fetched = spa.get(f"/self-service/verification/flows?id={shown['flow']['id']}")
    assert fetched.status == 200, fetched
    verification: dict[str, Any] = fetched.json()
    return answer, verification


def test_after_verification_return_to_is_where_the_verification_flow_returns(warden: ThreadedWarden) -> None:
    """Kratos's `NewPostHookFlow`: the verification flow a sign-up makes takes the registration's
    request URL, `after_verification_return_to` standing in for `return_to`; without it the
    registration's own `return_to` carries over."""
    after, back = f"{UI}verified", f"{UI}app"
    answer, verification = _signed_up_with(warden, f"?return_to={back}&after_verification_return_to={after}")
    assert answer["continue_with"][0]["redirect_browser_to"] == back, "the sign-up itself still returns to return_to"
    assert verification["return_to"] == after
    assert "after_verification_return_to" not in verification["request_url"]
    assert "/self-service/registration/browser?" in verification["request_url"]

    assert _signed_up_with(warden, f"?return_to={back}")[1]["return_to"] == back

    refused = "https://elsewhere.example/next"
    verification = _signed_up_with(warden, f"?after_verification_return_to={refused}")[1]
    assert "return_to" not in verification, "a URL off the allow-list is dropped: the default applies"


def test_a_new_address_in_settings_gets_a_verification_flow_that_returns_where_settings_does(
    warden: ThreadedWarden,
) -> None:
    """Kratos's verification hook makes the flows of a settings change with `NewPostHookFlow` from the
    settings flow too: its request URL, and so its `return_to` (or `after_verification_return_to`)."""
    spa = Browser(warden.public_url, json=True)
    _sign_up_as_spa(spa, _email("settings"))  # and signed in, a moment ago: a privileged session
    after, back = f"{UI}verified", f"{UI}app"
    for query, returns_to in (
        (f"return_to={back}", back),
        (f"return_to={back}&after_verification_return_to={after}", after),
    ):
        started = spa.get(f"/self-service/settings/browser?{query}")
        assert started.status == 200, started
        flow = started.json()
        body = {
            "csrf_token": node(flow, "csrf_token")["attributes"]["value"],
            "method": "profile",
            "traits": {"email": _email("changed")},
        }
        changed = spa.post(flow["ui"]["action"], body)
        assert changed.status == 200, changed
        [shown] = [c for c in changed.json()["continue_with"] if c["action"] == "show_verification_ui"]
        verification = spa.get(f"/self-service/verification/flows?id={shown['flow']['id']}").json()
        assert verification["return_to"] == returns_to
        assert "/self-service/settings/browser?" in verification["request_url"]
        assert "after_verification_return_to" not in verification["request_url"]
