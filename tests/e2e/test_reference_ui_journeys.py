"""What Ory's reference UI (kratos-selfservice-ui-node) met that differed from Kratos (issue 16,
items 1-7), each journey end to end with a real SMTP server, Kratos's SDK for what it can drive and
a cookie-keeping browser for the rest, on SQLite and PostgreSQL.

Two Wardens per database: `code` (verification and recovery by code, `show_verification_ui` after
registration) and `strict` (the same with a `privileged_session_max_age` of PRIVILEGED_SECONDS)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ory_kratos_client as kratos
import pytest
import sqlalchemy as sa
import urllib3

from shared.storage.database import Database
from shared.text.message import minutes
from tests.mail_helpers import (
    SETTINGS_UI,
    VERIFICATION_UI,
    MailStack,
    attempt,
    code_in,
    link_in,
    mail_warden,
    ui_message_ids,
    wait_for_mail,
)
from tests.selfservice_helpers import CONFIGURED_BASE, PASSWORD, RETURN_URL, Browser, Response, database, node
from tests.smtp import SmtpServer

NEW_PASSWORD = "Harbor-Violet-Compass-9362"
# `strict`'s privileged_session_max_age: a fresh sign-in's change must be resumed within it, under a
# loaded CI machine too (1 s was once too short between a sign-in's redirect and its follow-up).
PRIVILEGED_SECONDS = 3
# `brief`'s settings flow lifespan: long enough to pause a change and sign in again on a loaded machine.
BRIEF_SETTINGS_SECONDS = 6


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def code(db_kind: str, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[MailStack]:
    directory = tmp_path_factory.mktemp(f"journeys-code-{db_kind}")
    with database(db_kind, directory) as dsn, mail_warden(directory, dsn, smtp, use="code") as stack:
        yield stack


@pytest.fixture(scope="module")
def strict(db_kind: str, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[MailStack]:
    directory = tmp_path_factory.mktemp(f"journeys-strict-{db_kind}")
    with (
        database(db_kind, directory) as dsn,
        mail_warden(directory, dsn, smtp, use="code", privileged_max_age=f"{PRIVILEGED_SECONDS}s") as stack,
    ):
        yield stack


@pytest.fixture(scope="module")
def brief(db_kind: str, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[MailStack]:
    """`strict` with settings flows that expire after BRIEF_SETTINGS_SECONDS."""
    directory = tmp_path_factory.mktemp(f"journeys-brief-{db_kind}")
    with (
        database(db_kind, directory) as dsn,
        mail_warden(
            directory,
            dsn,
            smtp,
            use="code",
            privileged_max_age=f"{PRIVILEGED_SECONDS}s",
            settings_lifespan=f"{BRIEF_SETTINGS_SECONDS}s",
        ) as stack,
    ):
        yield stack


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _plain(value: Any) -> dict[str, Any]:
    return json.loads(json.dumps(value.to_dict() if hasattr(value, "to_dict") else value, default=str))


def _register(stack: MailStack, email: str, password: str = PASSWORD) -> Any:
    flow = stack.frontend.create_native_registration_flow()
    body = kratos.UpdateRegistrationFlowWithPasswordMethod(
        method="password", password=password, traits={"email": email}
    )
    return stack.frontend.update_registration_flow(flow.id, kratos.UpdateRegistrationFlowBody(body))


def _verified(stack: MailStack, identity_id: str) -> bool:
    return bool(stack.identities.get_identity(identity_id).verifiable_addresses[0].verified)


def _verify_with_code(stack: MailStack, flow_id: str, secret: str) -> tuple[int, dict[str, Any]]:
    body = kratos.UpdateVerificationFlowBody(kratos.UpdateVerificationFlowWithCodeMethod(method="code", code=secret))
    return attempt(lambda: stack.frontend.update_verification_flow(flow_id, body))


def _browser_sign_up(stack: MailStack, email: str) -> tuple[Browser, Any]:
    browser = Browser(stack.public_url)
    started = browser.get("/self-service/registration/browser")
    flow = browser.get(
        f"/self-service/registration/flows?id={parse_qs(urlsplit(started.location).query)['flow'][0]}", as_json=True
    ).json()
    csrf = node(flow, "csrf_token")["attributes"]["value"]
    form = {"csrf_token": csrf, "method": "password", "traits.email": email, "password": PASSWORD}
    return browser, browser.post(flow["ui"]["action"], form)


# --- 1. a verification link only fills in the code ---------------------------------------------


def test_a_verification_code_link_prefills_the_code_and_verifies_only_when_submitted(code: MailStack) -> None:
    email = _email("prefetch")
    done = _register(code, email)
    [mail] = wait_for_mail(code.smtp, email)
    url, secret = link_in(mail, "verification"), code_in(mail)
    # A mail scanner follows the link: no cookies, and it does not verify anything.
    scanned = urllib3.request("GET", code.local(url), redirect=False, retries=False)
    flow_id = parse_qs(urlsplit(url).query)["flow"][0]
    assert scanned.status == 303 and scanned.headers["Location"] == f"{VERIFICATION_UI}?flow={flow_id}"
    assert not _verified(code, done.identity.id)
    shown = _plain(code.frontend.get_verification_flow(flow_id))
    assert node(shown, "code")["attributes"]["value"] == secret  # the UI shows the code, ready to submit
    status, answer = _verify_with_code(code, flow_id, secret)
    assert status == 200 and answer["state"] == "passed_challenge"
    assert _verified(code, done.identity.id)


# --- 2. show_verification_ui after a browser registration --------------------------------------


def test_browser_registration_lands_on_the_verification_flow_whose_code_was_mailed(code: MailStack) -> None:
    email = _email("showui")
    browser, registered = _browser_sign_up(code, email)
    assert registered.status == 303 and registered.location.startswith(f"{VERIFICATION_UI}?flow="), registered
    [mail] = wait_for_mail(code.smtp, email)
    flow_id = parse_qs(urlsplit(registered.location).query)["flow"][0]
    assert parse_qs(urlsplit(link_in(mail, "verification")).query)["flow"] == [flow_id]
    fetched = browser.get(f"/self-service/verification/flows?id={flow_id}", as_json=True)
    assert fetched.status == 200, fetched
    flow = fetched.json()
    csrf = node(flow, "csrf_token")["attributes"]["value"]
    submitted = browser.post(
        flow["ui"]["action"], {"csrf_token": csrf, "method": "code", "code": code_in(mail)}, as_json=True
    )
    assert submitted.status == 200 and submitted.json()["state"] == "passed_challenge", submitted


# --- 3. a refresh login asks only for the secret -----------------------------------------------


def test_a_refresh_login_has_the_sessions_identifier_hidden_and_filled(code: MailStack) -> None:
    email = _email("refresh")
    token = _register(code, email).session_token
    flow = code.frontend.create_native_login_flow(refresh=True, x_session_token=token)
    identifier = node(_plain(flow), "identifier")["attributes"]
    assert identifier["type"] == "hidden" and identifier["value"] == email and not identifier.get("required")
    assert node(_plain(flow), "password")["attributes"]["type"] == "password"
    body = kratos.UpdateLoginFlowWithPasswordMethod(
        method="password", identifier=identifier["value"], password=PASSWORD
    )
    refreshed = code.frontend.update_login_flow(flow.id, kratos.UpdateLoginFlowBody(body), x_session_token=token)
    assert refreshed.session.identity.traits["email"] == email


# --- 4. re-authentication resumes the settings change ------------------------------------------


def _paused(stack: MailStack, email: str) -> tuple[Browser, str, Response]:
    """A password change asked for past the privileged window, paused for a fresh sign-in: the
    browser, the settings flow's id, and the answer that sends the browser to sign in again."""
    browser, registered = _browser_sign_up(stack, email)
    assert registered.status == 303, registered
    time.sleep(PRIVILEGED_SECONDS + 0.5)
    started = browser.get("/self-service/settings/browser")
    settings_id = parse_qs(urlsplit(started.location).query)["flow"][0]
    flow = browser.get(f"/self-service/settings/flows?id={settings_id}", as_json=True).json()
    csrf = node(flow, "csrf_token")["attributes"]["value"]
    asked = browser.post(flow["ui"]["action"], {"csrf_token": csrf, "method": "password", "password": NEW_PASSWORD})
    return browser, settings_id, asked


def _paused_then_signed_in_again(stack: MailStack, email: str) -> tuple[Browser, str, Response]:
    """`_paused`, and the fresh sign-in done: the browser, the settings flow's id, and the sign-in's
    answer (to the resume URL)."""
    browser, settings_id, asked = _paused(stack, email)
    return browser, settings_id, _sign_in_again(browser, asked, settings_id)


def _sign_in_again(browser: Browser, asked: Response, settings_id: str) -> Response:
    """The fresh sign-in a paused settings change sent the browser to (`asked`), done: its answer,
    which leads back to the settings flow to resume it."""
    assert asked.status == 303 and "/self-service/login/browser?" in asked.location, asked
    resume_url = f"{CONFIGURED_BASE}/self-service/settings?flow={settings_id}"
    assert parse_qs(urlsplit(asked.location).query)["return_to"] == [resume_url]
    login_started = browser.get(asked.location)
    login = browser.get(
        f"/self-service/login/flows?id={parse_qs(urlsplit(login_started.location).query)['flow'][0]}", as_json=True
    ).json()
    identifier = node(login, "identifier")["attributes"]["value"]
    form = {"csrf_token": node(login, "csrf_token")["attributes"]["value"], "method": "password"}
    signed_in = browser.post(login["ui"]["action"], {**form, "identifier": identifier, "password": PASSWORD})
    assert signed_in.status == 303 and signed_in.location == resume_url, signed_in
    return signed_in


def _signs_in_with(strict: MailStack, email: str, password: str) -> bool:
    login_flow = strict.frontend.create_native_login_flow()
    body = kratos.UpdateLoginFlowBody(
        kratos.UpdateLoginFlowWithPasswordMethod(method="password", identifier=email, password=password)
    )
    return attempt(lambda: strict.frontend.update_login_flow(login_flow.id, body))[0] == 200


def test_a_settings_change_that_needed_a_fresh_sign_in_is_applied_after_it(strict: MailStack) -> None:
    email = _email("resume")
    browser, settings_id, signed_in = _paused_then_signed_in_again(strict, email)
    resumed = browser.get(signed_in.location)  # the change typed before signing in again, now applied
    assert resumed.status == 303 and resumed.location == f"{SETTINGS_UI}?flow={settings_id}", resumed
    applied = browser.get(f"/self-service/settings/flows?id={settings_id}", as_json=True)
    assert applied.status == 200 and applied.json()["state"] == "success", applied
    assert _signs_in_with(strict, email, NEW_PASSWORD)
    assert browser.get(signed_in.location).location == f"{SETTINGS_UI}?flow={settings_id}"  # resumed once only


def _stored_flow(stack: MailStack, flow_id: str) -> str:
    """The settings flow's row as the database holds it, every column as text."""
    database = Database.from_dsn(stack.warden.process.settings.dsn_for("selfservice"))

    async def read() -> str:
        try:
            async with database.read() as conn:
                found = await conn.execute(sa.text("SELECT * FROM selfservice_flows WHERE id = :id"), {"id": flow_id})
                return " ".join(str(value) for value in found.one())
        finally:
            await database.dispose()

    return stack.warden.run(read())


def test_a_paused_change_waits_sealed_for_the_browser_that_typed_it(strict: MailStack) -> None:
    """A new password typed past the privileged window waits with the flow for the fresh sign-in:
    whoever reads the database meanwhile (a backup, an operator) does not find it there, nor the
    continuity token that opens it; the browser that typed it resumes it all the same."""
    email = _email("sealed")
    browser, settings_id, asked = _paused(strict, email)
    stored = _stored_flow(strict, settings_id)
    assert "pending_change" in stored, stored  # the change waits in this row ...
    assert NEW_PASSWORD not in stored and browser.cookies["ory_kratos_continuity"] not in stored  # ... sealed
    resumed = browser.get(_sign_in_again(browser, asked, settings_id).location)
    assert resumed.status == 303 and resumed.location == f"{SETTINGS_UI}?flow={settings_id}", resumed
    assert _signs_in_with(strict, email, NEW_PASSWORD)


def test_a_paused_change_resumed_past_the_privileged_window_asks_again_and_is_kept(strict: MailStack) -> None:
    # Resumed after the privileged window ran out again, the change is not applied and not dropped
    # either: as Kratos does with its continuity container, the browser is sent to sign in once more,
    # and the change typed before is applied after that sign-in.
    email = _email("too-late")
    browser, settings_id, signed_in = _paused_then_signed_in_again(strict, email)
    time.sleep(PRIVILEGED_SECONDS + 0.5)
    asked_again = browser.get(signed_in.location)
    assert _signs_in_with(strict, email, PASSWORD) and not _signs_in_with(strict, email, NEW_PASSWORD)
    resumed = browser.get(_sign_in_again(browser, asked_again, settings_id).location)
    assert resumed.status == 303 and resumed.location == f"{SETTINGS_UI}?flow={settings_id}", resumed
    # Signing in again rotated the browser's CSRF cookie, and the flow followed it: the browser reads it.
    applied = browser.get(f"/self-service/settings/flows?id={settings_id}", as_json=True)
    assert applied.status == 200 and applied.json()["state"] == "success", applied
    assert _signs_in_with(strict, email, NEW_PASSWORD)


def test_a_paused_change_resumed_on_an_expired_flow_says_so_on_a_new_flow(brief: MailStack) -> None:
    # The settings flow expired while the browser signed in again: the change typed into it is not
    # applied, and the browser lands on a new settings flow that says the old one expired, rather
    # than on the old one (which answers 410, and the UI starts a new one as if nothing was typed).
    email = _email("expired")
    browser, settings_id, signed_in = _paused_then_signed_in_again(brief, email)
    time.sleep(BRIEF_SETTINGS_SECONDS + 0.5)
    resumed = browser.get(signed_in.location)
    assert resumed.status == 303 and resumed.location.startswith(f"{SETTINGS_UI}?flow="), resumed
    fresh_id = parse_qs(urlsplit(resumed.location).query)["flow"][0]
    assert fresh_id != settings_id
    fresh = browser.get(f"/self-service/settings/flows?id={fresh_id}", as_json=True)
    assert fresh.status == 200 and fresh.json()["state"] == "show_form", fresh
    assert ui_message_ids(fresh.json()) == [4050001], fresh.json()["ui"]["messages"]
    assert _signs_in_with(brief, email, PASSWORD) and not _signs_in_with(brief, email, NEW_PASSWORD)


def test_a_change_paused_in_another_browser_is_not_applied_when_the_owner_signs_in_again(strict: MailStack) -> None:
    """Someone holding a copy of an old session cookie asks for a password change; it needs a fresh
    sign-in, so it is paused and the answer points at the re-authentication. If the owner is led to
    that link and signs in again, the paused change must not be applied in the owner's browser:
    Kratos keeps a paused change in a continuity container bound by a cookie to the browser that
    paused it (`ory_kratos_continuity`), so a privileged session is needed by whoever typed it."""
    email = _email("paused-elsewhere")
    owner, registered = _browser_sign_up(strict, email)
    assert registered.status == 303, registered
    thief = Browser(strict.public_url)
    thief.cookies["ory_kratos_session"] = owner.cookies["ory_kratos_session"]  # a copied cookie
    time.sleep(PRIVILEGED_SECONDS + 0.5)
    started = thief.get("/self-service/settings/browser")
    settings_id = parse_qs(urlsplit(started.location).query)["flow"][0]
    flow = thief.get(f"/self-service/settings/flows?id={settings_id}", as_json=True).json()
    csrf = node(flow, "csrf_token")["attributes"]["value"]
    stolen_password = "Thief-Chose-This-Password-5150"
    asked = thief.post(flow["ui"]["action"], {"csrf_token": csrf, "method": "password", "password": stolen_password})
    assert asked.status == 303 and "/self-service/login/browser?" in asked.location, asked

    login_started = owner.get(asked.location)  # the owner follows the link and signs in again
    login = owner.get(
        f"/self-service/login/flows?id={parse_qs(urlsplit(login_started.location).query)['flow'][0]}", as_json=True
    ).json()
    form = {"csrf_token": node(login, "csrf_token")["attributes"]["value"], "method": "password"}
    signed_in = owner.post(login["ui"]["action"], {**form, "identifier": email, "password": PASSWORD})
    assert signed_in.status == 303, signed_in
    owner.get(signed_in.location)

    login_flow = strict.frontend.create_native_login_flow()
    body = kratos.UpdateLoginFlowWithPasswordMethod(method="password", identifier=email, password=stolen_password)
    status, refused = attempt(
        lambda: strict.frontend.update_login_flow(login_flow.id, kratos.UpdateLoginFlowBody(body))
    )
    assert status == 400 and ui_message_ids(refused) == [4000006], "the other browser's password was set"


# --- 5. a way forward after verification -------------------------------------------------------


def test_a_passed_verification_flow_has_a_continue_link(code: MailStack) -> None:
    email = _email("continue")
    done = _register(code, email)
    [mail] = wait_for_mail(code.smtp, email)
    flow_id = parse_qs(urlsplit(link_in(mail, "verification")).query)["flow"][0]
    status, answer = _verify_with_code(code, flow_id, code_in(mail))
    assert status == 200 and answer["state"] == "passed_challenge"
    [link] = [n for n in answer["ui"]["nodes"] if n["attributes"].get("id") == "continue"]
    assert link["type"] == "a" and link["attributes"]["href"] == RETURN_URL
    assert link["attributes"]["title"]["id"] == 1070009
    assert _verified(code, done.identity.id)


# --- 6. the recovery message counts the privileged session -------------------------------------


def test_the_recovery_message_gives_the_privileged_session_window(strict: MailStack) -> None:
    email = _email("window")
    _register(strict, email)
    wait_for_mail(strict.smtp, email)
    flow = strict.frontend.create_native_recovery_flow()
    ask = kratos.UpdateRecoveryFlowBody(kratos.UpdateRecoveryFlowWithCodeMethod(method="code", email=email))
    assert attempt(lambda: strict.frontend.update_recovery_flow(flow.id, ask))[0] == 200
    secret = code_in(wait_for_mail(strict.smtp, email, 2)[-1])
    use = kratos.UpdateRecoveryFlowBody(kratos.UpdateRecoveryFlowWithCodeMethod(method="code", code=secret))
    status, answer = attempt(lambda: strict.frontend.update_recovery_flow(flow.id, use))
    assert status == 200, answer
    [shown] = [c for c in answer["continue_with"] if c["action"] == "show_settings_ui"]
    token = next(c["ory_session_token"] for c in answer["continue_with"] if c["action"] == "set_ory_session_token")
    settings = _plain(strict.frontend.get_settings_flow(shown["flow"]["id"], x_session_token=token))
    [message] = [m for m in settings["ui"]["messages"] if m["id"] == 1060001]
    assert (
        f"within the next {minutes(timedelta(seconds=PRIVILEGED_SECONDS))} minutes" in message["text"]
    )  # not the flow's 60


# --- 7. traits are checked before the password -------------------------------------------------


def test_registration_reports_trait_errors_before_password_policy_errors(code: MailStack) -> None:
    flow = code.frontend.create_native_registration_flow()
    body = kratos.UpdateRegistrationFlowWithPasswordMethod(
        method="password", password="short", traits={"email": "not-an-email"}
    )
    status, answer = attempt(
        lambda: code.frontend.update_registration_flow(flow.id, kratos.UpdateRegistrationFlowBody(body))
    )
    assert status == 400
    assert [m["id"] for m in node(answer, "traits.email")["messages"]] == [4000001]
    assert node(answer, "password")["messages"] == []
