"""Journeys through the mailbox, end to end: a whole Warden (identity, session, selfservice, courier)
sends real mail to a real SMTP server (aiosmtpd), and the tests read the codes and links out of it
the way a user would, driving the flows with Kratos's own SDK, on SQLite and PostgreSQL.

Three Wardens per database serve the module:
* `code`   verification and recovery by 6-digit code;
* `strict` the same, plus `notify_unknown_recipients` and `privileged_session_max_age: 1s`;
* `link`   verification and recovery by link (`use: link`), plus `notify_unknown_recipients`.
Every test uses addresses of its own, so the tests share the servers and the SMTP server.

Reference: Kratos's behaviour (KRATOS_NOTES §2.6, §2.7, §6 and the Kratos sources they cite)."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ory_kratos_client as kratos
import pytest
import urllib3

from tests.mail_helpers import (
    RECOVERY_UI,
    SETTINGS_UI,
    VERIFICATION_UI,
    MailStack,
    attempt,
    code_in,
    link_in,
    mail_stack,
    ui_message_ids,
    wait_for_mail,
)
from tests.selfservice_helpers import CONFIGURED_BASE, PASSWORD, RETURN_URL, create_identity, node
from tests.smtp import SmtpServer

NEW_PASSWORD = "Harbor-Violet-Compass-9362"
COOKIE = "ory_kratos_session"


# --- servers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def code(db_kind: str, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[MailStack]:
    yield from mail_stack(db_kind, "code", tmp_path_factory, smtp, use="code")


@pytest.fixture(scope="module")
def strict(db_kind: str, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[MailStack]:
    yield from mail_stack(
        db_kind, "strict", tmp_path_factory, smtp, use="code", notify_unknown=True, privileged_max_age="1s"
    )


@pytest.fixture(scope="module")
def link(db_kind: str, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[MailStack]:
    yield from mail_stack(db_kind, "link", tmp_path_factory, smtp, use="link", notify_unknown=True)


# --- steps -------------------------------------------------------------------------------------


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _register(stack: MailStack, email: str, password: str = PASSWORD) -> Any:
    flow = stack.frontend.create_native_registration_flow()
    return stack.frontend.update_registration_flow(
        flow.id,
        kratos.UpdateRegistrationFlowBody(
            kratos.UpdateRegistrationFlowWithPasswordMethod(
                method="password", password=password, traits={"email": email}
            )
        ),
    )


def _login_body(email: str, password: str) -> kratos.UpdateLoginFlowBody:
    return kratos.UpdateLoginFlowBody(
        kratos.UpdateLoginFlowWithPasswordMethod(method="password", identifier=email, password=password)
    )


def _login(stack: MailStack, email: str, password: str = PASSWORD) -> Any:
    flow = stack.frontend.create_native_login_flow()
    return stack.frontend.update_login_flow(flow.id, _login_body(email, password))


def _verify(stack: MailStack, flow_id: str, secret: str) -> tuple[int, dict[str, Any]]:
    body = kratos.UpdateVerificationFlowBody(kratos.UpdateVerificationFlowWithCodeMethod(method="code", code=secret))
    return attempt(lambda: stack.frontend.update_verification_flow(flow_id, body))


def _recovery_code(stack: MailStack, flow_id: str, secret: str) -> tuple[int, dict[str, Any]]:
    body = kratos.UpdateRecoveryFlowBody(kratos.UpdateRecoveryFlowWithCodeMethod(method="code", code=secret))
    return attempt(lambda: stack.frontend.update_recovery_flow(flow_id, body))


def _ask_recovery(stack: MailStack, email: str, took: list[float] | None = None) -> dict[str, Any]:
    """The answer to a recovery asked for `email`; the submission's own time goes to `took`."""
    flow = stack.frontend.create_native_recovery_flow()
    body = kratos.UpdateRecoveryFlowBody(kratos.UpdateRecoveryFlowWithCodeMethod(method="code", email=email))
    started = time.monotonic()
    status, answer = attempt(lambda: stack.frontend.update_recovery_flow(flow.id, body))
    if took is not None:
        took.append(time.monotonic() - started)
    assert status == 200, answer
    return answer


def _address(stack: MailStack, identity_id: str, value: str) -> dict[str, Any]:
    identity = stack.identities.get_identity(identity_id).to_dict()
    found = [a for a in identity.get("verifiable_addresses") or [] if a["value"] == value]
    assert found, f"{value} is not among {identity.get('verifiable_addresses')}"
    return json.loads(json.dumps(found[0], default=str))


def _continue_with(answer: Any) -> list[dict[str, Any]]:
    body = answer if isinstance(answer, dict) else json.loads(json.dumps(answer.to_dict(), default=str))
    return list(body.get("continue_with") or [])


def _shown_verification(answer: Any) -> dict[str, Any]:
    items = [c for c in _continue_with(answer) if c["action"] == "show_verification_ui"]
    assert len(items) == 1, _continue_with(answer)
    return items[0]["flow"]


def _flow_id_in(url: str) -> str:
    return parse_qs(urlsplit(url).query)["flow"][0]


# --- 1. verification by code -------------------------------------------------------------------


def test_registration_mails_a_code_that_verifies_the_address_once(code: MailStack) -> None:
    email = _email("signup")
    done = _register(code, email)
    assert [c["action"] for c in _continue_with(done)] == ["show_verification_ui", "set_ory_session_token"]
    shown = _shown_verification(done)
    assert shown["verifiable_address"] == email and shown["url"] == f"{VERIFICATION_UI}?flow={shown['id']}"

    [mail] = wait_for_mail(code.smtp, email)
    secret = code_in(mail)
    assert mail.subject == f"Use code {secret} to verify your account"
    assert mail.recipients == [email] and mail.sender == "Warden <no-reply@warden.test>"

    flow = code.frontend.get_verification_flow(shown["id"]).to_dict()
    assert flow["state"] == "sent_email" and flow["type"] == "api"
    assert node(flow, "code")["attributes"]["autocomplete"] == "one-time-code"
    assert _address(code, done.identity.id, email)["verified"] is False

    wrong = "000000" if secret != "000000" else "111111"
    status, rejected = _verify(code, shown["id"], wrong)
    assert status in (200, 400) and ui_message_ids(rejected) == [4070006], rejected
    assert rejected["state"] == "sent_email"

    status, passed = _verify(code, shown["id"], secret)
    assert status == 200, passed
    assert passed["state"] == "passed_challenge" and ui_message_ids(passed) == [1080002]

    whoami = code.frontend.to_session(x_session_token=done.session_token).to_dict()
    [address] = [a for a in whoami["identity"]["verifiable_addresses"] if a["value"] == email]
    assert address["verified"] is True and address["status"] == "completed" and address["verified_at"]

    status, again = _verify(code, shown["id"], secret)  # the same code does not pass twice
    assert status >= 400 and 1080002 not in ui_message_ids(again), (status, again)


def test_five_wrong_codes_lock_the_verification_flow(code: MailStack) -> None:
    email = _email("guess")
    done = _register(code, email)
    flow_id = _shown_verification(done)["id"]
    secret = code_in(wait_for_mail(code.smtp, email)[0])
    wrong = [f"{n:06d}" for n in range(100000, 100010) if f"{n:06d}" != secret][:5]
    for guess in wrong:
        status, rejected = _verify(code, flow_id, guess)
        assert status in (200, 400) and ui_message_ids(rejected) == [4070006]
    status, locked = _verify(code, flow_id, secret)
    assert ui_message_ids(locked) == [4070006] and locked["state"] != "passed_challenge", (status, locked)
    assert _address(code, done.identity.id, email)["verified"] is False


def test_a_verification_code_mail_carries_a_link_with_the_code(code: MailStack) -> None:
    """Kratos's code sender (`selfservice/strategy/code/code_sender.go`, `constructVerificationLink`)
    puts `VerificationURL = <public>/self-service/verification?flow=<id>&code=<code>` into every
    verification code mail, and the built-in template shows it ("or clicking the following link");
    KRATOS_NOTES §6 lists the link too. A user on another device than the app can click it."""
    email = _email("codelink")
    flow_id = _shown_verification(_register(code, email))["id"]
    [mail] = wait_for_mail(code.smtp, email)
    url = link_in(mail, "verification")
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{CONFIGURED_BASE}/self-service/verification?")
    assert query == {"flow": [flow_id], "code": [code_in(mail)]}


# --- 2. a forgotten password -------------------------------------------------------------------


def test_a_forgotten_password_is_reset_through_a_mailed_code(code: MailStack) -> None:
    email = _email("forgot")
    identity_id = _register(code, email).identity.id
    wait_for_mail(code.smtp, email)  # the verification mail

    sent = _ask_recovery(code, email)
    assert sent["state"] == "sent_email" and ui_message_ids(sent) == [1060003]
    mail = wait_for_mail(code.smtp, email, 2)[-1]
    secret = code_in(mail)
    assert mail.subject == f"Use code {secret} to recover access to your account"

    status, rejected = _recovery_code(code, sent["id"], "000000" if secret != "000000" else "111111")
    assert status in (200, 400) and ui_message_ids(rejected) == [4060006]
    status, recovered = _recovery_code(code, sent["id"], secret)
    assert status == 200 and recovered["state"] == "passed_challenge", recovered
    token_item, settings_item = _continue_with(recovered)
    assert token_item["action"] == "set_ory_session_token" and token_item["ory_session_token"].startswith("ory_st_")
    assert settings_item["action"] == "show_settings_ui"
    token, settings_id = token_item["ory_session_token"], settings_item["flow"]["id"]
    assert settings_item["flow"]["url"] == f"{SETTINGS_UI}?flow={settings_id}"

    session = code.frontend.to_session(x_session_token=token)
    assert session.identity.id == identity_id
    assert [m.method for m in session.authentication_methods] == ["code_recovery"]
    settings = code.frontend.get_settings_flow(settings_id, x_session_token=token)
    assert settings.state == "show_form" and 1060001 in [m.id for m in settings.ui.messages]
    changed = code.frontend.update_settings_flow(
        settings_id,
        kratos.UpdateSettingsFlowBody(
            kratos.UpdateSettingsFlowWithPasswordMethod(method="password", password=NEW_PASSWORD)
        ),
        x_session_token=token,
    )
    assert changed.state == "success" and [m.id for m in changed.ui.messages] == [1050001]

    assert _login(code, email, NEW_PASSWORD).session.identity.id == identity_id
    flow = code.frontend.create_native_login_flow()
    status, refused = attempt(lambda: code.frontend.update_login_flow(flow.id, _login_body(email, PASSWORD)))
    assert status == 400 and ui_message_ids(refused) == [4000006]

    status, again = _recovery_code(code, sent["id"], secret)
    assert status >= 400, ("a recovery code signs in once", again)


def test_a_recovered_flow_does_not_hand_out_its_session_token_again(code: MailStack) -> None:
    """The session token of a recovery is in the answer to the code's submission and nowhere else.
    Kratos does not store a flow's `continue_with` (`db:"-"`), so `GET /self-service/recovery/flows`
    (which needs no credentials for API flows) never shows it; in Warden it stays in the stored flow,
    so whoever learns the flow id (it is in every recovery link) signs in as the user."""
    email = _email("leak")
    _register(code, email)
    wait_for_mail(code.smtp, email)
    sent = _ask_recovery(code, email)
    secret = code_in(wait_for_mail(code.smtp, email, 2)[-1])
    status, recovered = _recovery_code(code, sent["id"], secret)
    assert status == 200
    token = _continue_with(recovered)[0]["ory_session_token"]
    fetched = urllib3.request("GET", f"{code.public_url}/self-service/recovery/flows?id={sent['id']}")
    assert fetched.status == 200 and json.loads(fetched.data)["state"] == "passed_challenge"
    assert token not in fetched.data.decode(), "GET …/recovery/flows shows the recovered session's token"
    status, again = _recovery_code(code, sent["id"], secret)
    assert status >= 400 and token not in json.dumps(again), "a second submission shows the token"


def test_recovery_by_mail_proves_the_address(code: MailStack) -> None:
    """Kratos marks the recovery address verified when a self-service recovery code or link is used
    (`markRecoveryAddressVerified` in `selfservice/strategy/code/strategy_recovery.go` and
    `link/strategy_recovery.go`, "mark address as verified only for a self-service flow"): the code
    reached the mailbox, so the address is proven."""
    email = _email("proven")
    identity_id = _register(code, email).identity.id
    wait_for_mail(code.smtp, email)
    sent = _ask_recovery(code, email)
    secret = code_in(wait_for_mail(code.smtp, email, 2)[-1])
    status, recovered = _recovery_code(code, sent["id"], secret)
    assert status == 200 and recovered["state"] == "passed_challenge"
    address = _address(code, identity_id, email)
    assert address["verified"] is True and address["status"] == "completed" and address["verified_at"]


def test_an_unknown_address_gets_the_same_answer_and_no_mail(code: MailStack) -> None:
    known, unknown = _email("known"), _email("nobody")
    _register(code, known)
    wait_for_mail(code.smtp, known)
    took: list[float] = []
    for_unknown = _ask_recovery(code, unknown, took)
    for_known = _ask_recovery(code, known, took)
    # Both held to the same answer time (50 ms, where the send alone takes a few), so the known
    # address's extra work does not show (even_time.py; bench/enumeration.py compares the two).
    assert min(took) >= 0.05, took
    assert for_unknown["state"] == for_known["state"] == "sent_email"
    assert for_unknown["ui"]["messages"] == for_known["ui"]["messages"]
    assert [n["attributes"].get("name") for n in for_unknown["ui"]["nodes"]] == [
        n["attributes"].get("name") for n in for_known["ui"]["nodes"]
    ]
    wait_for_mail(code.smtp, known, 2)
    time.sleep(0.3)  # the courier polls every 50 ms; the unknown address's request came first
    assert code.smtp.to(unknown) == []
    assert code.courier.list_courier_messages(recipient=unknown) == []


def test_an_unknown_address_is_told_when_notify_unknown_recipients_is_on(strict: MailStack) -> None:
    unknown = _email("stranger")
    sent = _ask_recovery(strict, unknown)
    assert sent["state"] == "sent_email" and ui_message_ids(sent) == [1060003]
    [mail] = wait_for_mail(strict.smtp, unknown)
    assert mail.subject == "Account access attempted"
    assert "not on our database of registered users" in mail.text and not re.search(r"\b\d{6}\b", mail.text)
    [message] = strict.courier.list_courier_messages(recipient=unknown)
    assert message.template_type == "recovery_code_invalid"


# --- 2b. an address that moved between sending and using the code --------------------------------


def _move_email(stack: MailStack, identity_id: str, email: str) -> None:
    """The operator (or the user, in settings) gives the identity another address."""
    changed = urllib3.request(
        "PUT",
        f"{stack.warden.admin_url}/admin/identities/{identity_id}",
        json={"schema_id": "default", "traits": {"email": email}, "state": "active"},
    )
    assert changed.status == 200, changed.data


def test_a_recovery_code_for_an_address_the_account_gave_up_signs_no_one_in(code: MailStack) -> None:
    """A recovery code was sent to an address; before it was used, the account changed to another
    address (the old mailbox is lost or compromised). In Kratos the code belongs to the recovery
    address's row, which goes with the address, so the code no longer works; it must not sign in to
    the account the old mailbox no longer recovers, nor to one that took the address since."""
    old, new = _email("given-up"), _email("kept-new")
    first = _register(code, old).identity.id
    wait_for_mail(code.smtp, old)
    sent = _ask_recovery(code, old)
    secret = code_in(wait_for_mail(code.smtp, old, 2)[-1])
    _move_email(code, first, new)
    second = create_identity(code.warden.admin_url, old)

    status, answer = _recovery_code(code, sent["id"], secret)
    assert ui_message_ids(answer) == [4060006] and answer.get("state") != "passed_challenge", (status, answer)
    assert not _continue_with(answer), "the code signed in an account its address no longer recovers"
    assert _address(code, second, old)["verified"] is False, "another account's address was marked verified"


def test_a_verification_code_for_an_address_that_moved_verifies_nothing(code: MailStack) -> None:
    """A verification code sent for A's address, used after the address moved to B, must not mark
    B's address verified: B never showed it holds the mailbox (Kratos ties the code to A's address
    row, gone with the address)."""
    moved, kept = _email("moved-away"), _email("moved-to")
    done = _register(code, moved)
    flow_id = _shown_verification(done)["id"]
    secret = code_in(wait_for_mail(code.smtp, moved)[0])
    _move_email(code, done.identity.id, kept)
    second = create_identity(code.warden.admin_url, moved)

    status, answer = _verify(code, flow_id, secret)
    assert _address(code, second, moved)["verified"] is False, "another account's address was marked verified"
    assert ui_message_ids(answer) == [4070006] and answer.get("state") != "passed_challenge", (status, answer)


def test_an_address_typed_in_another_spelling_recovers_the_account(code: MailStack) -> None:
    """A fullwidth letter finds the account (addresses are folded, shared/identifiers.py); the code
    mailed to the account's address recovers it, however the address was typed."""
    email = _email("spelled")
    identity_id = _register(code, email).identity.id
    wait_for_mail(code.smtp, email)
    typed = "\uff33" + email[1:]  # a fullwidth S: NFKC folds it into the "s" the account has
    sent = _ask_recovery(code, typed)
    secret = code_in(wait_for_mail(code.smtp, email, 2)[-1])
    status, recovered = _recovery_code(code, sent["id"], secret)
    assert status == 200 and recovered["state"] == "passed_challenge", recovered
    token = _continue_with(recovered)[0]["ory_session_token"]
    assert code.frontend.to_session(x_session_token=token).identity.id == identity_id


# --- 3. settings: a new address, an old session ------------------------------------------------


def test_a_new_email_in_settings_is_unverified_and_gets_a_code(code: MailStack) -> None:
    old, new = _email("before"), _email("after")
    identity_id = _register(code, old).identity.id
    wait_for_mail(code.smtp, old)
    token = _login(code, old).session_token  # a fresh sign-in: a privileged session
    flow = code.frontend.create_native_settings_flow(x_session_token=token)
    done = code.frontend.update_settings_flow(
        flow.id,
        kratos.UpdateSettingsFlowBody(
            kratos.UpdateSettingsFlowWithProfileMethod(method="profile", traits={"email": new})
        ),
        x_session_token=token,
    )
    assert done.state == "success" and done.identity.traits == {"email": new}
    shown = _shown_verification(done)
    assert shown["verifiable_address"] == new

    identity = code.identities.get_identity(identity_id).to_dict()
    assert [(a["value"], a["verified"]) for a in identity["verifiable_addresses"]] == [(new, False)]
    assert [a["value"] for a in identity["recovery_addresses"]] == [new]
    [mail] = wait_for_mail(code.smtp, new)
    time.sleep(0.2)
    assert len(code.smtp.to(old)) == 1, "only the registration's mail went to the old address"

    status, passed = _verify(code, shown["id"], code_in(mail))
    assert status == 200 and passed["state"] == "passed_challenge"
    assert _address(code, identity_id, new)["verified"] is True
    assert _login(code, new).session.identity.id == identity_id


def test_an_old_session_must_sign_in_again_to_change_the_password(strict: MailStack) -> None:
    email = _email("stale")
    token = _register(strict, email).session_token
    time.sleep(2)  # privileged_session_max_age: 1s
    flow = strict.frontend.create_native_settings_flow(x_session_token=token)
    status, body = attempt(
        lambda: strict.frontend.update_settings_flow(
            flow.id,
            kratos.UpdateSettingsFlowBody(
                kratos.UpdateSettingsFlowWithPasswordMethod(method="password", password=NEW_PASSWORD)
            ),
            x_session_token=token,
        )
    )
    assert status == 403 and body["error"]["id"] == "session_refresh_required", body
    redirect = body["redirect_browser_to"]
    assert redirect.startswith(f"{CONFIGURED_BASE}/self-service/login/browser?refresh=true")
    # Kratos's reauthenticate names the settings endpoint with the flow, for API flows too.
    assert parse_qs(urlsplit(redirect).query)["return_to"] == [
        f"{CONFIGURED_BASE}/self-service/settings?flow={flow.id}"
    ]
    flow = strict.frontend.create_native_login_flow()
    status, refused = attempt(lambda: strict.frontend.update_login_flow(flow.id, _login_body(email, NEW_PASSWORD)))
    assert status == 400 and ui_message_ids(refused) == [4000006], "the password did not change"


# --- 4. links ------------------------------------------------------------------------------------


def _browser_flow(stack: MailStack, kind: str, email: str) -> tuple[Any, dict[str, Any]]:
    """A browser (SPA) flow of `kind` with a link sent to `email`: the browser and the sent flow."""
    browser = stack.browser()
    flow = browser.get(f"/self-service/{kind}/browser").json()
    csrf = node(flow, "csrf_token")["attributes"]["value"]
    sent = browser.post(flow["ui"]["action"], {"method": "link", "email": email, "csrf_token": csrf})
    assert sent.status == 200, sent
    return browser, sent.json()


def _fetch_flow(browser: Any, kind: str, location: str) -> dict[str, Any]:
    answer = browser.get(f"/self-service/{kind}/flows?id={_flow_id_in(location)}", as_json=True)
    assert answer.status == 200, answer
    return answer.json()


def _tampered(url: str) -> str:
    token = parse_qs(urlsplit(url).query)["token"][0]
    return url.replace(token, token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))


def test_a_verification_link_verifies_the_address(link: MailStack) -> None:
    email = _email("vlink")
    identity_id = _register(link, email).identity.id
    wait_for_mail(link.smtp, email)  # the registration's (API flow's) mail
    browser, sent = _browser_flow(link, "verification", email)
    assert sent["state"] == "sent_email" and ui_message_ids(sent) == [1080001]
    mail = wait_for_mail(link.smtp, email, 2)[-1]
    assert mail.subject == "Please verify your email address"
    url = link_in(mail, "verification")
    assert url.startswith(f"{CONFIGURED_BASE}/self-service/verification?")
    assert parse_qs(urlsplit(url).query)["flow"] == [sent["id"]]

    tampered = browser.get(_tampered(url), as_json=False)
    assert tampered.status == 303 and tampered.location.startswith(f"{VERIFICATION_UI}?flow="), tampered
    assert 4070001 in ui_message_ids(_fetch_flow(browser, "verification", tampered.location))
    assert _address(link, identity_id, email)["verified"] is False

    clicked = browser.get(url, as_json=False)
    assert clicked.status == 303, clicked
    # Kratos's `redirectVerificationSuccess`: no return_to and no `verification.after` URL, so the
    # verification UI showing the flow's success, not the global default return URL.
    assert clicked.location == f"{VERIFICATION_UI}?flow={sent['id']}"
    assert ui_message_ids(_fetch_flow(browser, "verification", clicked.location)) == [1080002]
    address = _address(link, identity_id, email)
    assert address["verified"] is True and address["status"] == "completed"

    used = browser.get(url, as_json=False)
    assert used.status == 303 and used.location.startswith(f"{VERIFICATION_UI}?flow="), used
    assert 4070001 in ui_message_ids(_fetch_flow(browser, "verification", used.location))


def test_a_verification_link_from_a_native_sign_up_opens_in_the_browser(link: MailStack) -> None:
    """The link in the mail of a native (API) sign-up is clicked in the phone's mail app, so in a
    browser. Kratos's `updateVerificationFlow` answers every browser request (`x.IsBrowserRequest`:
    it accepts text/html) with 303 to the verification UI, whatever the flow's type, after the
    token verified the address; JSON is only for API clients."""
    email = _email("applink")
    done = _register(link, email)
    flow_id = _shown_verification(done)["id"]
    url = link_in(wait_for_mail(link.smtp, email)[0], "verification")
    assert parse_qs(urlsplit(url).query)["flow"] == [flow_id]
    clicked = link.browser(json=False).get(url)
    assert _address(link, done.identity.id, email)["verified"] is True
    assert clicked.status == 303, clicked
    assert clicked.location in (RETURN_URL, f"{VERIFICATION_UI}?flow={flow_id}")


def test_a_recovery_link_signs_in_and_opens_settings(link: MailStack) -> None:
    email = _email("rlink")
    identity_id = _register(link, email).identity.id
    wait_for_mail(link.smtp, email)
    browser, sent = _browser_flow(link, "recovery", email)
    assert sent["state"] == "sent_email" and ui_message_ids(sent) == [1060002]
    mail = wait_for_mail(link.smtp, email, 2)[-1]
    assert mail.subject == "Recover access to your account"
    url = link_in(mail, "recovery")
    assert parse_qs(urlsplit(url).query)["flow"] == [sent["id"]]

    tampered = browser.get(_tampered(url), as_json=False)
    assert tampered.status == 303 and tampered.location.startswith(f"{RECOVERY_UI}?flow="), tampered
    assert COOKIE not in tampered.set_cookies
    assert 4060004 in ui_message_ids(_fetch_flow(browser, "recovery", tampered.location))

    clicked = browser.get(url, as_json=False)
    assert clicked.status == 303 and clicked.location.startswith(f"{SETTINGS_UI}?flow="), clicked
    assert COOKIE in clicked.set_cookies and browser.cookies.get(COOKIE)
    whoami = browser.get("/sessions/whoami", as_json=True)
    assert whoami.status == 200 and whoami.json()["identity"]["id"] == identity_id
    assert [m["method"] for m in whoami.json()["authentication_methods"]] == ["link_recovery"]
    settings = _fetch_flow(browser, "settings", clicked.location)
    assert settings["state"] == "show_form" and 1060001 in ui_message_ids(settings)

    stranger = link.browser(json=False)  # the used link, in another browser
    used = stranger.get(url)
    assert used.status == 303 and used.location.startswith(f"{RECOVERY_UI}?flow="), used
    assert COOKIE not in used.set_cookies


def test_link_mode_tells_an_unknown_address_too(link: MailStack) -> None:
    unknown = _email("stranger-link")
    _, sent = _browser_flow(link, "recovery", unknown)
    assert sent["state"] == "sent_email" and ui_message_ids(sent) == [1060002]
    [mail] = wait_for_mail(link.smtp, unknown)
    assert mail.subject == "Account access attempted" and "/self-service/" not in mail.text


# --- 5. the courier's record, the logs ---------------------------------------------------------


def test_the_courier_records_each_mail_and_no_log_line_holds_a_secret(
    code: MailStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    email = _email("audit")
    done = _register(code, email)
    verification_code = code_in(wait_for_mail(code.smtp, email)[0])
    assert _verify(code, _shown_verification(done)["id"], verification_code)[0] == 200
    sent = _ask_recovery(code, email)
    recovery_code = code_in(wait_for_mail(code.smtp, email, 2)[-1])
    status, recovered = _recovery_code(code, sent["id"], recovery_code)
    assert status == 200
    session_token = _continue_with(recovered)[0]["ory_session_token"]

    deadline = time.monotonic() + 10
    while True:
        listed = code.courier.list_courier_messages(recipient=email)
        if len(listed) == 2 and {m.status for m in listed} == {"sent"}:
            break
        assert time.monotonic() < deadline, [(m.template_type, m.status) for m in listed]
        time.sleep(0.05)
    assert [m.template_type for m in listed] == ["recovery_code_valid", "verification_code_valid"], "newest first"
    mails = code.smtp.to(email)
    for message, mail in zip(reversed(listed), mails):
        assert message.recipient == email and message.type == "email" and message.send_count == 1
        assert message.subject == mail.subject
        full = code.courier.get_courier_message(message.id)
        assert [d.status for d in full.dispatches or []] == ["success"]
    assert code.courier.list_courier_messages(recipient=_email("nobody")) == []

    secrets = [verification_code, recovery_code, session_token, PASSWORD]
    mine = [r for r in caplog.records if r.name != "mail.log"]  # mail.log: the test's own SMTP server
    assert any(r.name == "warden.http" for r in mine), "Warden logs at INFO (the access log at least)"
    for record in mine:
        line = f"{record.getMessage()} {json.dumps({k: str(v) for k, v in vars(record).items()})}"
        for secret in secrets:
            assert not re.search(rf"(?<![0-9A-Za-z_-]){re.escape(secret)}(?![0-9A-Za-z_-])", line), (
                f"a secret in a log line: {record.name}: {record.getMessage()}"
            )


# --- 6. recovery started by an operator --------------------------------------------------------


def test_an_admin_recovery_code_signs_the_user_in(code: MailStack) -> None:
    email = _email("operator")
    identity_id = _register(code, email).identity.id
    wait_for_mail(code.smtp, email)
    issued = code.identities.create_recovery_code_for_identity(
        kratos.CreateRecoveryCodeForIdentityBody(identity_id=identity_id, expires_in="10m")
    )
    assert re.fullmatch(r"\d{6}", issued.recovery_code) and issued.expires_at
    flow_id = _flow_id_in(issued.recovery_link)

    # The user types the code into the recovery UI in their browser: a form post, and no CSRF cookie
    # yet (the operator made the flow). Nothing is mailed.
    browser = code.browser(json=False)
    wrong = "000000" if issued.recovery_code != "000000" else "111111"
    refused = browser.post(f"/self-service/recovery?flow={flow_id}", {"method": "code", "code": wrong})
    assert refused.status == 303 and refused.location == f"{RECOVERY_UI}?flow={flow_id}", refused
    assert COOKIE not in refused.set_cookies
    done = browser.post(f"/self-service/recovery?flow={flow_id}", {"method": "code", "code": issued.recovery_code})
    assert done.status == 303 and done.location.startswith(f"{SETTINGS_UI}?flow="), done
    assert COOKIE in done.set_cookies
    whoami = browser.get("/sessions/whoami", as_json=True)
    assert whoami.status == 200 and whoami.json()["identity"]["id"] == identity_id
    assert [m["method"] for m in whoami.json()["authentication_methods"]] == ["code_recovery"]
    again = code.browser(json=False).post(
        f"/self-service/recovery?flow={flow_id}", {"method": "code", "code": issued.recovery_code}
    )
    assert COOKIE not in again.set_cookies, "an admin code signs in once"
    assert len(code.smtp.to(email)) == 1, "only the registration's mail"


def test_an_admin_recovery_code_for_a_native_app(code: MailStack) -> None:
    """Kratos's `createRecoveryCodeForIdentity` takes `flow_type` (`browser` by default, or `api`;
    KRATOS_NOTES §1.3 lists it, `selfservice/strategy/code/strategy_recovery_admin.go`): with `api`
    the app submits the code itself and gets the session token back, `continue_with:
    [set_ory_session_token, show_settings_ui]` (§2.6), as for any API recovery flow."""
    identity_id = _register(code, _email("operator-app")).identity.id
    issued = code.identities.create_recovery_code_for_identity(
        kratos.CreateRecoveryCodeForIdentityBody(identity_id=identity_id, flow_type="api")
    )
    status, recovered = _recovery_code(code, _flow_id_in(issued.recovery_link), issued.recovery_code)
    assert status == 200 and recovered.get("state") == "passed_challenge", (status, recovered)
    assert recovered["type"] == "api"
    assert [c["action"] for c in _continue_with(recovered)] == ["set_ory_session_token", "show_settings_ui"]
    token = _continue_with(recovered)[0]["ory_session_token"]
    assert code.frontend.to_session(x_session_token=token).identity.id == identity_id


def test_an_admin_recovery_code_link_points_at_the_recovery_ui(code: MailStack) -> None:
    """Kratos's `recovery_link` for an admin code is `<selfservice.flows.recovery.ui_url>?flow=<id>`
    ("This link opens the recovery UI with an empty `code` field",
    `selfservice/strategy/code/strategy_recovery_admin.go`). Warden's points at the public submit
    endpoint, where a GET without a code is a failed try: the user lands on the UI with 4060006."""
    identity_id = _register(code, _email("operator-ui")).identity.id
    issued = code.identities.create_recovery_code_for_identity(
        kratos.CreateRecoveryCodeForIdentityBody(identity_id=identity_id)
    )
    flow_id = _flow_id_in(issued.recovery_link)
    assert issued.recovery_link == f"{RECOVERY_UI}?flow={flow_id}"


def test_any_browser_can_fetch_a_flow_an_operator_made(code: MailStack) -> None:
    """Kratos's `getRecoveryFlow` checks the CSRF cookie of browser flows except those with
    `DangerousSkipCSRFCheck` (`selfservice/flow/recovery/handler.go`), which admin-made flows have:
    no browser holds a CSRF cookie for them, so the recovery UI could not show them otherwise."""
    identity_id = _register(code, _email("operator-fetch")).identity.id
    issued = code.identities.create_recovery_code_for_identity(
        kratos.CreateRecoveryCodeForIdentityBody(identity_id=identity_id)
    )
    fetched = code.browser().get(f"/self-service/recovery/flows?id={_flow_id_in(issued.recovery_link)}")
    assert fetched.status == 200, fetched
    assert fetched.json()["state"] == "sent_email" and "code" in [
        n["attributes"].get("name") for n in fetched.json()["ui"]["nodes"]
    ]


def _admin_link(stack: MailStack, identity_id: str) -> str:
    issued = stack.identities.create_recovery_link_for_identity(
        create_recovery_link_for_identity_body=kratos.CreateRecoveryLinkForIdentityBody(
            identity_id=identity_id, expires_in="10m"
        )
    )
    assert issued.expires_at
    return str(issued.recovery_link)


def test_an_admin_recovery_link_signs_the_user_in(link: MailStack) -> None:
    email = _email("operator-link")
    identity_id = create_identity(link.warden.admin_url, email)
    url = _admin_link(link, identity_id)
    assert url.startswith(f"{CONFIGURED_BASE}/self-service/recovery?")
    assert set(parse_qs(urlsplit(url).query)) == {"flow", "token"}
    clicked = link.browser(json=False).get(url)
    assert clicked.status == 303 and clicked.location.startswith(f"{SETTINGS_UI}?flow="), clicked
    assert COOKIE in clicked.set_cookies
    whoami = link.frontend.to_session(cookie=f"{COOKIE}={clicked.set_cookies[COOKIE].value}")
    assert whoami.identity.id == identity_id and [m.method for m in whoami.authentication_methods] == ["link_recovery"]
    again = link.browser(json=False).get(url)
    assert again.status == 303 and COOKIE not in again.set_cookies, "an admin link signs in once"
    assert again.location.startswith(f"{RECOVERY_UI}?flow=")
    missing = urllib3.request(
        "POST", f"{link.warden.admin_url}/admin/recovery/link", json={"identity_id": str(uuid.uuid4())}
    )
    assert missing.status == 404
    assert link.smtp.to(email) == [], "nothing is mailed"


def test_a_browser_signed_in_by_recovery_can_open_its_settings_flow(link: MailStack) -> None:
    """A recovery link is opened in whatever browser the mail app (or the operator's message) starts,
    often one without Warden's CSRF cookie. Kratos's `recoveryIssueSession` regenerates the CSRF
    token and sets its cookie (`f.SetCSRFToken(CSRFHandler().RegenerateToken(w, r))`) before it
    makes the settings flow, so that browser can load and submit the settings flow it is sent to;
    fetching a browser flow without the matching cookie is 403 security_csrf_violation (§2.5)."""
    identity_id = create_identity(link.warden.admin_url, _email("operator-settings"))
    browser = link.browser(json=False)
    clicked = browser.get(_admin_link(link, identity_id))
    assert clicked.status == 303 and clicked.location.startswith(f"{SETTINGS_UI}?flow="), clicked
    settings = browser.get(f"/self-service/settings/flows?id={_flow_id_in(clicked.location)}", as_json=True)
    assert settings.status == 200, settings
    assert settings.json()["identity"]["id"] == identity_id and 1060001 in ui_message_ids(settings.json())
