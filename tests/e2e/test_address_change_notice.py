"""The security notice to previous addresses, end to end: a whole Warden sends real mail to a real
SMTP server (aiosmtpd) when a settings change moves the account to another address, driven with
Kratos's own SDK, on SQLite and PostgreSQL.

Three Wardens per database serve the module:
* `notified`  `settings.after.profile.hooks: [notify_previous_addresses]` (`recipients` by default);
* `custom`    the hook with `recipients: all`, and the notice's templates overridden in config
              (`courier.templates.verifiable_address_changed.email.*`), as a Kratos user writes them;
* `plain`     no such hook.

Reference: Kratos's `selfservice/hook/notify_previous_addresses.go` and
`courier/template/email/verifiable_address_changed.go` (its template model: `To`, `Identity`,
`ChangedAt`, `TransientPayload`)."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import ory_kratos_client as kratos
import pytest
import urllib3

from tests.mail_helpers import MailStack, attempt, code_in, mail_stack, wait_for_mail
from tests.selfservice_helpers import PASSWORD
from tests.smtp import Received, SmtpServer

SUBJECT = "An address on your account was changed"  # the built-in template's
HOOK = {"hook": "notify_previous_addresses"}


def b64(text: str) -> str:
    return "base64://" + base64.b64encode(text.encode()).decode()


# Go templates, as a Kratos user writes them for `courier.templates.verifiable_address_changed`.
CUSTOM = {
    "email": {
        "subject": b64("Security notice for {{ .To }}"),
        "body": {
            "plaintext": b64("Now {{ .Identity.traits.email }} (account {{ .Identity.id }}) since {{ .ChangedAt }}."),
            "html": b64("<p>Now {{ .Identity.traits.email }} since {{ .ChangedAt }}.</p>"),
        },
    }
}


# --- servers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def notified(db_kind: str, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[MailStack]:
    yield from mail_stack(db_kind, "notified", tmp_path_factory, smtp, profile_hooks=[HOOK])


@pytest.fixture(scope="module")
def custom(db_kind: str, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[MailStack]:
    hook = {**HOOK, "config": {"recipients": "all"}}
    templates = {"verifiable_address_changed": CUSTOM}
    yield from mail_stack(db_kind, "custom", tmp_path_factory, smtp, profile_hooks=[hook], templates=templates)


@pytest.fixture(scope="module")
def plain(db_kind: str, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[MailStack]:
    yield from mail_stack(db_kind, "plain", tmp_path_factory, smtp)


# --- steps -------------------------------------------------------------------------------------


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _sign_up(stack: MailStack, email: str) -> Any:
    """A new account whose address gets its verification mail; a fresh (privileged) session."""
    flow = stack.frontend.create_native_registration_flow()
    done = stack.frontend.update_registration_flow(
        flow.id,
        kratos.UpdateRegistrationFlowBody(
            kratos.UpdateRegistrationFlowWithPasswordMethod(
                method="password", password=PASSWORD, traits={"email": email}
            )
        ),
    )
    wait_for_mail(stack.smtp, email)
    return done


def _verify(stack: MailStack, done: Any, email: str) -> None:
    """Proves the account's address with the code the sign-up mailed."""
    [item] = [c for c in done.to_dict()["continue_with"] if c["action"] == "show_verification_ui"]
    body = kratos.UpdateVerificationFlowWithCodeMethod(method="code", code=code_in(wait_for_mail(stack.smtp, email)[0]))
    status, passed = attempt(
        lambda: stack.frontend.update_verification_flow(item["flow"]["id"], kratos.UpdateVerificationFlowBody(body))
    )
    assert status == 200 and passed["state"] == "passed_challenge", passed


def _change_email(stack: MailStack, token: str, email: str) -> Any:
    flow = stack.frontend.create_native_settings_flow(x_session_token=token)
    done = stack.frontend.update_settings_flow(
        flow.id,
        kratos.UpdateSettingsFlowBody(
            kratos.UpdateSettingsFlowWithProfileMethod(method="profile", traits={"email": email})
        ),
        x_session_token=token,
    )
    assert done.state == "success" and done.identity.traits == {"email": email}
    return done


def _messages(stack: MailStack, recipient: str) -> list[dict[str, Any]]:
    """The courier's records for `recipient`, read over HTTP: the SDK's message model does not know
    the `verifiable_address_changed` template type yet (Kratos's API does)."""
    answer = urllib3.request("GET", f"{stack.warden.admin_url}/admin/courier/messages", fields={"recipient": recipient})
    assert answer.status == 200, answer.data
    found: list[dict[str, Any]] = answer.json()
    return found


def _notices(mails: list[Received], subject: str = SUBJECT) -> list[Received]:
    return [m for m in mails if m.subject == subject]


def _changed_at(text: str) -> datetime:
    [line] = [line for line in text.splitlines() if line.startswith("Changed at: ")]
    return datetime.strptime(line.removeprefix("Changed at: "), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


# --- the notice --------------------------------------------------------------------------------


def test_moving_the_account_to_another_email_tells_the_old_one(notified: MailStack) -> None:
    old, new = _email("owner"), _email("taker")
    signed_up = _sign_up(notified, old)
    _verify(notified, signed_up, old)
    before = datetime.now(UTC).replace(microsecond=0)
    _change_email(notified, signed_up.session_token, new)
    after = datetime.now(UTC)

    [notice] = _notices(wait_for_mail(notified.smtp, old, 2))
    identity_id = signed_up.identity.id
    assert notice.recipients == [old] and notice.to == old
    assert f"Account ID: {identity_id}" in notice.text and identity_id in notice.html
    assert before <= _changed_at(notice.text) <= after
    assert "not you" in notice.text and "not you" in notice.html

    # The new address gets its verification code, and never the notice.
    [verification] = wait_for_mail(notified.smtp, new)
    assert verification.subject.startswith("Use code ") and _notices(notified.smtp.to(new)) == []
    [record] = [m for m in _messages(notified, old) if m["template_type"] == "verifiable_address_changed"]
    assert record["status"] == "sent" and record["type"] == "email" and record["subject"] == SUBJECT


def test_the_notice_goes_to_an_address_that_was_never_verified_too(notified: MailStack) -> None:
    """`recipients: removed` (the default) tells every address the change took away."""
    old, new = _email("unproven"), _email("elsewhere")
    signed_up = _sign_up(notified, old)
    _change_email(notified, signed_up.session_token, new)
    [notice] = _notices(wait_for_mail(notified.smtp, old, 2))
    assert f"Account ID: {signed_up.identity.id}" in notice.text


def test_a_users_own_templates_shape_the_notice(custom: MailStack) -> None:
    """`courier.templates.verifiable_address_changed.email` (Kratos's key, with no valid/invalid
    level) overrides the built-in texts, with Kratos's template model; `recipients: all` tells the
    address the account had."""
    old, new = _email("mine"), _email("theirs")
    signed_up = _sign_up(custom, old)
    before = datetime.now(UTC).replace(microsecond=0)
    _change_email(custom, signed_up.session_token, new)
    after = datetime.now(UTC)

    [notice] = _notices(wait_for_mail(custom.smtp, old, 2), f"Security notice for {old}")
    text = notice.text.strip()
    assert text.startswith(f"Now {new} (account {signed_up.identity.id}) since ")
    changed_at = datetime.strptime(text.rsplit(" ", 1)[1].rstrip("."), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= changed_at <= after
    assert notice.html.strip() == f"<p>Now {new} since {changed_at:%Y-%m-%dT%H:%M:%SZ}.</p>"
    assert _notices(custom.smtp.to(old)) == []  # not the built-in one


def test_without_the_hook_the_old_address_hears_nothing(plain: MailStack) -> None:
    old, new = _email("quiet"), _email("moved")
    signed_up = _sign_up(plain, old)
    _change_email(plain, signed_up.session_token, new)
    wait_for_mail(plain.smtp, new)  # the new address's code, sent in the same request
    time.sleep(0.3)  # the courier polls every 50 ms: a notice from that request would be here by now
    [only] = plain.smtp.to(old)  # the sign-up's code
    assert only.subject.startswith("Use code ")
    assert [m["template_type"] for m in _messages(plain, old)] == ["verification_code_valid"]
