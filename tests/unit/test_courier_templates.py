"""The courier's built-in templates: every Kratos template type, email (subject, text, HTML) and
SMS, rendered from a command's template data."""

from __future__ import annotations

from typing import Any

import pytest

from services.courier.commands import MessageRequest
from services.courier.errors import InvalidCommand
from services.courier.render.builtin import BuiltinTemplates
from services.courier.render.renderer import Renderer
from services.courier.template_types import TEMPLATE_TYPES
from shared.bus.envelope import Envelope

TO = "alice@example.com"
DATA: dict[str, Any] = {
    "RecoveryURL": "https://id.example/self-service/recovery?flow=f1&token=t0k3n",
    "RecoveryCode": "271828",
    "VerificationURL": "https://id.example/self-service/verification?flow=f2&code=314159",
    "VerificationCode": "314159",
    "LoginCode": "161803",
    "RegistrationCode": "141421",
    "ExpiresInMinutes": 15,
    "Identity": {"id": "6f3c1a52-2b1e-4c1d-9d59-0c3a3e9f1b77", "traits": {"email": TO, "name": "<b>Alice</b>"}},
    "Subject": "stub subject",
    "Body": "stub body",
    "MethodName": "An authenticator app",
    "ChangedAt": "2026-04-21T12:00:00Z",
}
# What each valid template must show, in every body it has.
SHOWS = {
    "recovery_valid": ["RecoveryURL"],
    "recovery_code_valid": ["RecoveryCode"],
    "verification_valid": ["VerificationURL"],
    "verification_code_valid": ["VerificationCode"],
    "login_code_valid": ["LoginCode"],
    "login_code_invalid": [],  # Warden's notice to an identifier without an account: no code at all
    "registration_code_valid": ["RegistrationCode"],
    "stub": ["Body"],
    "verifiable_address_changed": [],  # a notice to an address the account had: nothing to enter
}
SUBJECTS = {
    "recovery_invalid": "Account access attempted",
    "recovery_valid": "Recover access to your account",
    "recovery_code_invalid": "Account access attempted",
    "recovery_code_valid": "Use code 271828 to recover access to your account",
    "verification_invalid": "Someone tried to verify this email address",
    "verification_valid": "Please verify your email address",
    "verification_code_invalid": "Someone tried to verify this email address",
    "verification_code_valid": "Use code 314159 to verify your account",
    "login_code_valid": "Use code 161803 to log in",
    "login_code_invalid": "Sign-in attempted",
    "registration_code_valid": "Use code 141421 to complete your account registration",
    "stub": "stub subject",
    "second_factor_added": "A second factor was added to your account",
    "second_factor_removed": "A second factor was removed from your account",
    "registration_attempted": "Someone tried to sign up with your email address",
    "verifiable_address_changed": "An address on your account was changed",
}


def request(template_type: str, channel: str = "email", recipient: str = TO, **data: Any) -> MessageRequest:
    body = {
        "template_type": template_type,
        "recipient": recipient,
        "channel": channel,
        "template_data": {**DATA, **data},
    }
    return MessageRequest.from_envelope(Envelope(type="courier.message.requested", source="test", data=body))


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    built = Renderer(BuiltinTemplates())
    built.check()
    return built


def test_every_kratos_template_type_has_templates() -> None:
    assert set(TEMPLATE_TYPES) == set(SUBJECTS)
    assert {t for t, spec in TEMPLATE_TYPES.items() if spec.sms} == set(SHOWS)


@pytest.mark.parametrize("template_type", sorted(SUBJECTS))
def test_email_templates_render_subject_text_and_html(renderer: Renderer, template_type: str) -> None:
    rendered = renderer.render(request(template_type))
    assert rendered.subject == SUBJECTS[template_type]
    assert rendered.html_body is not None and rendered.html_body.lstrip().startswith("<!DOCTYPE html>")
    for field in SHOWS.get(template_type, []):
        assert DATA[field] in rendered.body
        assert str(DATA[field]).replace("&", "&amp;") in rendered.html_body
    if template_type.endswith("_invalid"):  # nothing to use, and it says so
        assert "ignore this email" in rendered.body and "ignore this email" in rendered.html_body
        assert not any(code in rendered.body for code in ("271828", "314159", "161803", "141421"))
    elif template_type.startswith("second_factor_"):  # a notice: which factor, nothing to enter
        assert DATA["MethodName"] in rendered.body and DATA["MethodName"] in rendered.html_body
    elif template_type == "registration_attempted":  # a notice: the way back in, nothing to enter
        assert "sign in" in rendered.body and "recover" in rendered.body and "recover" in rendered.html_body
    elif template_type == "verifiable_address_changed":  # which account, and when (Kratos's model)
        for shown in (rendered.body, rendered.html_body):
            assert DATA["Identity"]["id"] in shown and DATA["ChangedAt"] in shown and "not you" in shown
    elif template_type != "stub":
        assert "expires in 15 minutes" in rendered.body


@pytest.mark.parametrize("template_type", sorted(SHOWS))
def test_sms_templates_render_one_body(renderer: Renderer, template_type: str) -> None:
    rendered = renderer.render(request(template_type, "sms", recipient="+15550100"))
    assert rendered.subject == "" and rendered.html_body is None
    for field in SHOWS[template_type]:
        assert DATA[field] in rendered.body
    assert len(rendered.body) < 200


def test_missing_fields_render_as_nothing(renderer: Renderer) -> None:
    rendered = renderer.render(request("recovery_code_valid", RecoveryCode="999000", ExpiresInMinutes=None))
    assert "999000" in rendered.body and "expires" not in rendered.body


def test_html_bodies_escape_the_data(renderer: Renderer) -> None:
    rendered = renderer.render(request("verification_valid", VerificationURL='https://x.example/?a=1&b="><script>'))
    assert "<script>" not in (rendered.html_body or "")
    assert "&lt;script&gt;" in (rendered.html_body or "")
    assert '"><script>' in rendered.body  # the plain-text body is not HTML


def test_the_subject_is_one_line(renderer: Renderer) -> None:
    rendered = renderer.render(request("stub", Subject="line one\r\nBcc: evil@example.com"))
    assert "\n" not in rendered.subject and "\r" not in rendered.subject


def test_kratos_json_names_are_accepted_and_to_defaults_to_the_recipient() -> None:
    body = {"template_type": "login_code_valid", "recipient": TO, "template_data": {"login_code": "123456"}}
    parsed = MessageRequest.from_envelope(Envelope(type="courier.message.requested", source="t", data=body))
    assert parsed.template_data == {"To": TO, "LoginCode": "123456"}
    assert parsed.channel == "email"


def test_the_channel_defaults_from_the_recipient_and_the_type() -> None:
    assert request("login_code_valid", channel="", recipient="+15550100").channel == "sms"
    assert request("login_code_valid", channel="").channel == "email"
    with pytest.raises(InvalidCommand):
        request("recovery_invalid", channel="sms", recipient="+15550100")  # Kratos has no SMS for it


@pytest.mark.parametrize(
    "data",
    [
        {"template_type": "nope", "recipient": TO},
        {"template_type": "stub"},
        {"template_type": "stub", "recipient": "a@b.c\r\nBcc: x@y.z"},
        {"template_type": "stub", "recipient": "no-at-sign", "channel": "email"},
        {"template_type": "stub", "recipient": TO, "channel": "pigeon"},
        {"template_type": "stub", "recipient": TO, "template_data": ["not", "an", "object"]},
    ],
)
def test_commands_no_retry_can_fix_are_refused(data: dict[str, Any]) -> None:
    with pytest.raises(InvalidCommand):
        MessageRequest.from_envelope(Envelope(type="courier.message.requested", source="t", data=data))


def test_the_message_id_is_the_envelope_id() -> None:
    envelope = Envelope(type="courier.message.requested", source="t", data={"template_type": "stub", "recipient": TO})
    assert MessageRequest.from_envelope(envelope).message_id == envelope.id
    odd = Envelope(
        type="courier.message.requested", source="t", data={"template_type": "stub", "recipient": TO}, id="x-1"
    )
    assert MessageRequest.from_envelope(odd).message_id == MessageRequest.from_envelope(odd).message_id != "x-1"
