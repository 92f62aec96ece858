"""Node labels (1070xxx), `text/message_node.go`."""

from __future__ import annotations

from shared.text.message import Message, info


def label(text: str) -> Message:
    """A label that is only its text (Kratos's generic `InfoNodeLabel`), such as a recovery flow's
    masked address on the button that picks it."""
    return info(1070000, text)


def label_password() -> Message:
    return info(1070001, "Password")


def generated_label(title: str, name: str) -> Message:
    """A traits field's label: the schema `title`, and the field name for UIs that translate it."""
    return info(1070002, title, {"title": title, "name": name})


def label_save() -> Message:
    return info(1070003, "Save")


def label_id() -> Message:
    return info(1070004, "ID")


def label_submit() -> Message:
    return info(1070005, "Submit")


def label_verify_code() -> Message:
    return info(1070006, "Verify code")


def label_email() -> Message:
    return info(1070007, "Email")


def label_resend_code() -> Message:
    return info(1070008, "Resend code")


def label_continue() -> Message:
    return info(1070009, "Continue")


def label_recovery_code() -> Message:
    return info(1070010, "Recovery code")


def label_verification_code() -> Message:
    return info(1070011, "Verification code")


def label_registration_code() -> Message:
    return info(1070012, "Registration code")


def label_login_code() -> Message:
    return info(1070013, "Login code")


def label_login_and_link() -> Message:
    return info(1070014, "Login and link credential")


def label_captcha() -> Message:
    return info(1070015, "Please complete the captcha challenge to continue.")


def label_recovery_address() -> Message:
    return info(1070016, "Recovery address")


def label_phone_number() -> Message:
    return info(1070017, "Phone number")


def label_email_or_phone() -> Message:
    return info(1070018, "Email or phone number")
