"""Registration with an existing account's address (checklist EN-4, `security.account_enumeration.mitigate`),
against the real HTTP server on SQLite and PostgreSQL, mail read from a real SMTP server.

* mitigation off (Kratos's default): 4000007, as Kratos says it;
* mitigation on, no `session` hook after password registration: the answer for an existing address
  is a new account's (status, body, messages, cookies), nothing is created or changed, the owner is
  mailed a `registration_attempted` notice and never a verification code;
* mitigation on with the `session` hook: start-up warns, and 4000007 stays.

Three Wardens per database serve the module; every test uses addresses of its own."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden
from tests.mail_helpers import code_in, mail_config, wait_for_mail
from tests.selfservice_helpers import PASSWORD, Browser, Response, create_identity, database, node, selfservice_settings
from tests.smtp import SmtpServer

OTHER_PASSWORD = "Meadow-Copper-Falcon-2958"  # the registrant's: passes the policy, like PASSWORD
NOTICE = "Someone tried to sign up with your email address"
MITIGATE = {"account_enumeration": {"mitigate": True}}
WARNING = "cannot hide existing accounts"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_VOLATILE = {"id", "created_at", "updated_at", "state_changed_at", "expires_at", "issued_at"}


ENGINES = ["sqlite", "postgres"]


def _warden(
    tmp_path_factory: pytest.TempPathFactory,
    db_kind: str,
    smtp: SmtpServer,
    *,
    mitigate: bool,
    session: bool,
    style: str = "unified",
) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp(f"enumeration-{db_kind}")
    options = mail_config(smtp)
    hooks = [{"hook": "session"}] if session else []
    options["flows"]["registration"] = {
        "style": style,
        "after": {"password": {"hooks": [*hooks, {"hook": "show_verification_ui"}]}},
    }
    extra = {"security": MITIGATE} if mitigate else {}
    with database(db_kind, directory) as dsn:
        with running_warden(selfservice_settings(directory, dsn, **options, **extra)) as warden:
            yield warden


@pytest.fixture(scope="module", params=ENGINES)
def hiding(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer
) -> Iterator[ThreadedWarden]:
    yield from _warden(tmp_path_factory, request.param, smtp, mitigate=True, session=False)


@pytest.fixture(scope="module", params=ENGINES)
def telling(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer
) -> Iterator[ThreadedWarden]:
    """The same config as `hiding`, without the mitigation."""
    yield from _warden(tmp_path_factory, request.param, smtp, mitigate=False, session=False)


@pytest.fixture(scope="module", params=ENGINES)
def two_step(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer
) -> Iterator[ThreadedWarden]:
    """`hiding` with `profile_first` registration: the traits, then the password."""
    yield from _warden(tmp_path_factory, request.param, smtp, mitigate=True, session=False, style="profile_first")


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _register(client: Browser, email: str, password: str = OTHER_PASSWORD, *, api: bool = False) -> Response:
    """A password registration in a fresh flow: native (`api`), a SPA (JSON) or a browser form."""
    flow = client.get(f"/self-service/registration/{'api' if api else 'browser'}")
    if not client.json and not api:  # a form's browser lands on the UI: fetch the flow it names
        flow = client.get(f"/self-service/registration/flows?id={_UUID.search(flow.location)[0]}", as_json=True)
    body: dict[str, Any] = {"method": "password", "traits": {"email": email}, "password": password}
    if not api:
        body["csrf_token"] = node(flow.json(), "csrf_token")["attributes"]["value"]
    return client.post(flow.json()["ui"]["action"], body if client.json or api else _form(body), as_json=api or None)


def _form(body: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in body.items() if k != "traits"}, "traits.email": body["traits"]["email"]}


def _comparable(value: Any, email: str) -> Any:
    """The answer without what differs between any two registrations: ids, times, the address typed."""
    if isinstance(value, dict):
        return {k: _comparable(v, email) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_comparable(v, email) for v in value]
    if isinstance(value, str):
        return _UUID.sub("<uuid>", value.replace(email, "<email>").replace(_url_encoded(email), "<email>"))
    return value


def _url_encoded(email: str) -> str:
    return email.replace("@", "%40")


def _admin(warden: ThreadedWarden, identity_id: str) -> tuple[int, Any]:
    answer = urllib3.request("GET", f"{warden.admin_url}/admin/identities/{identity_id}?include_credential=password")
    return answer.status, json.loads(answer.data) if answer.data else None


def _login(warden: ThreadedWarden, email: str, password: str) -> int:
    client = Browser(warden.public_url, json=True)
    flow = client.get("/self-service/login/api").json()
    answer = client.post(flow["ui"]["action"], {"method": "password", "identifier": email, "password": password})
    return answer.status


# --- mitigation off ----------------------------------------------------------------------------


def test_without_the_mitigation_an_existing_address_is_refused_with_4000007(telling: ThreadedWarden) -> None:
    taken = _email("taken")
    create_identity(telling.admin_url, taken)
    answer = _register(Browser(telling.public_url, json=True), taken, api=True)
    assert answer.status == 400, answer
    assert [m["id"] for m in answer.json()["ui"]["messages"]] == [4000007]


# --- mitigation on -----------------------------------------------------------------------------


@pytest.mark.parametrize("client", ["api", "spa"])
def test_an_existing_address_is_answered_as_a_new_account(
    hiding: ThreadedWarden, smtp: SmtpServer, client: str
) -> None:
    taken, new = _email("taken"), _email("new")
    owner = create_identity(hiding.admin_url, taken)
    before = _admin(hiding, owner)
    as_existing = _register(Browser(hiding.public_url, json=True), taken, api=client == "api")
    as_new = _register(Browser(hiding.public_url, json=True), new, api=client == "api")

    assert as_existing.status == as_new.status == 200, (as_existing, as_new)
    assert _comparable(as_existing.json(), taken) == _comparable(as_new.json(), new)
    assert sorted(as_existing.set_cookies) == sorted(as_new.set_cookies)
    stand_in = as_existing.json()["identity"]["id"]
    assert stand_in != owner and _admin(hiding, stand_in)[0] == 404, "the stand-in is stored nowhere"
    assert _admin(hiding, owner) == before, "the account is unchanged"
    assert _login(hiding, taken, PASSWORD) == 200 and _login(hiding, taken, OTHER_PASSWORD) == 400

    [code_mail] = wait_for_mail(smtp, new)  # the new account's code: the events before it are handled
    assert code_in(code_mail)
    [notice] = wait_for_mail(smtp, taken)
    assert notice.subject == NOTICE and "no new account was created" in notice.text
    assert smtp.to(taken) == [notice], "no verification code for the existing account's address"


def test_the_stand_ins_verification_flow_opens_and_refuses_any_code(hiding: ThreadedWarden, smtp: SmtpServer) -> None:
    taken, new = _email("taken"), _email("new")
    create_identity(hiding.admin_url, taken)
    spa = Browser(hiding.public_url, json=True)
    answers = [_verify(spa, _register(spa, email), code) for email, code in ((taken, "123456"), (new, "000000"))]
    # Kratos answers a wrong code with the flow, as a 200 (`verificationUseCode`).
    assert answers[0] == answers[1] == (200, [4070006])  # the code is invalid or has already been used


def test_the_stand_ins_verification_flow_reads_as_a_new_accounts_after_the_codes_went(
    hiding: ThreadedWarden, smtp: SmtpServer
) -> None:
    """A new account's verification flow is saved again when its code goes out (after the
    identity.created event); the stand-in's never is. Its `updated_at` must not tell the two apart."""
    taken, new = _email("taken"), _email("new")
    create_identity(hiding.admin_url, taken)
    browsers = {email: Browser(hiding.public_url, json=True) for email in (taken, new)}
    flow_ids = {}
    for email, spa in browsers.items():
        [shown] = [c for c in _register(spa, email).json()["continue_with"] if c["action"] == "show_verification_ui"]
        flow_ids[email] = shown["flow"]["id"]
    wait_for_mail(smtp, new)  # the new account's code went out, its flow saved with it
    wait_for_mail(smtp, taken)
    flows = [browsers[e].get(f"/self-service/verification/flows?id={flow_ids[e]}").json() for e in (taken, new)]
    for flow in flows:  # each browser's own token
        for found in flow["ui"]["nodes"]:
            if found["attributes"].get("name") == "csrf_token":
                found["attributes"]["value"] = "<csrf>"
    assert _comparable(flows[0], taken) == _comparable(flows[1], new)
    gaps = [_seconds(f["updated_at"]) - _seconds(f["created_at"]) for f in flows]
    assert abs(gaps[0] - gaps[1]) < 0.01, gaps

    # Then each asks for the code again: both flows are saved by that request. (Compared with the
    # moment each request began, not with each other: on a loaded machine the two requests, one
    # after the other, are not evenly spaced.)
    asked = {}
    for email in (taken, new):
        flow = browsers[email].get(f"/self-service/verification/flows?id={flow_ids[email]}").json()
        body = {"method": "code", "email": email, "csrf_token": node(flow, "csrf_token")["attributes"]["value"]}
        asked[email] = time.time()
        assert browsers[email].post(flow["ui"]["action"], body).status == 200
    for email in (taken, new):
        flow = browsers[email].get(f"/self-service/verification/flows?id={flow_ids[email]}").json()
        assert _seconds(flow["updated_at"]) >= asked[email] - 0.001, (email, flow["updated_at"], asked[email])


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _verify(spa: Browser, registered: Response, code: str) -> tuple[int, list[int]]:
    [shown] = [c for c in registered.json()["continue_with"] if c["action"] == "show_verification_ui"]
    fetched = spa.get(f"/self-service/verification/flows?id={shown['flow']['id']}")
    assert fetched.status == 200 and fetched.json()["state"] == "sent_email", fetched
    flow = fetched.json()
    csrf = node(flow, "csrf_token")["attributes"]["value"]
    answer = spa.post(flow["ui"]["action"], {"method": "code", "code": code, "csrf_token": csrf})
    return answer.status, [m["id"] for m in answer.json()["ui"]["messages"]]


def test_a_browser_form_is_sent_where_a_new_accounts_is(hiding: ThreadedWarden) -> None:
    taken, new = _email("taken"), _email("new")
    create_identity(hiding.admin_url, taken)
    as_existing = _register(Browser(hiding.public_url), taken)
    as_new = _register(Browser(hiding.public_url), new)
    assert as_existing.status == as_new.status == 303, (as_existing, as_new)
    assert _comparable(as_existing.location, taken) == _comparable(as_new.location, new)
    assert "/verification?flow=" in as_existing.location
    assert sorted(as_existing.set_cookies) == sorted(as_new.set_cookies)


def test_two_step_registrations_credential_step_hides_the_account_too(two_step: ThreadedWarden) -> None:
    taken, new = _email("taken"), _email("new")
    owner = create_identity(two_step.admin_url, taken)
    answers = []
    for email in (taken, new):
        native = Browser(two_step.public_url, json=True)
        flow = native.get("/self-service/registration/api").json()
        profile = native.post(flow["ui"]["action"], {"method": "profile", "traits": {"email": email}})
        assert profile.status == 400 and "password" in [
            n["attributes"].get("name") for n in profile.json()["ui"]["nodes"]
        ]
        answers.append(native.post(flow["ui"]["action"], {"method": "password", "password": OTHER_PASSWORD}))
    assert answers[0].status == answers[1].status == 200, answers
    assert _comparable(answers[0].json(), taken) == _comparable(answers[1].json(), new)
    assert (
        answers[0].json()["identity"]["id"] != owner and _admin(two_step, answers[0].json()["identity"]["id"])[0] == 404
    )


# --- mitigation on, with the session hook --------------------------------------------------------


@pytest.mark.parametrize("db_kind", ENGINES)
def test_with_the_session_hook_start_up_warns_and_4000007_stays(
    tmp_path_factory: pytest.TempPathFactory, db_kind: str, smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="services.selfservice")
    for warden in _warden(tmp_path_factory, db_kind, smtp, mitigate=True, session=True):
        [warning] = [r.getMessage() for r in caplog.records if WARNING in r.getMessage()]
        assert "selfservice.flows.registration.after.password.hooks[0] (a session hook)" in warning
        assert "registration by password" in warning
        taken = _email("taken")
        create_identity(warden.admin_url, taken)
        answer = _register(Browser(warden.public_url, json=True), taken, api=True)
        assert answer.status == 400, answer
        assert [m["id"] for m in answer.json()["ui"]["messages"]] == [4000007]
