"""Kratos's courier template types (`courier/template/type.go`) and where each one's parts live:
Warden's built-in Jinja2 files, Kratos's `courier.templates.<group>.<valid|invalid>` config keys,
and Kratos's `courier.template_override_path` layout.

Template data travels under the Go field names Kratos's templates use (`To`, `RecoveryCode`, …);
the HTTP channel and the stored copy use Kratos's JSON names (`to`, `recovery_code`, …).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SUBJECT, PLAINTEXT, HTML, SMS_BODY = "email.subject", "email.body.plaintext", "email.body.html", "sms.body"
EMAIL_PARTS = (SUBJECT, PLAINTEXT, HTML)


@dataclass(frozen=True)
class TemplateType:
    name: str
    group: str | None  # courier.templates.<group>; None: not overridable from config (the stub)
    validity: str | None  # valid | invalid; None: a notice with no invalid twin (no such level in the keys)
    override_dir: str  # the folder under courier.template_override_path
    sms: bool  # Kratos has an SMS template for it

    def parts(self, channel: str) -> tuple[str, ...]:
        return EMAIL_PARTS if channel == "email" else (SMS_BODY,)

    @property
    def config_prefix(self) -> str | None:
        """`courier.templates.<group>[.<validity>]`, where its overrides are; None for the stub."""
        if self.group is None:
            return None
        return f"courier.templates.{self.group}" + (f".{self.validity}" if self.validity else "")


def _t(name: str, group: str | None, validity: str | None, sms: bool) -> TemplateType:
    folder = "/".join(p for p in (group, validity) if p) if group else "test_stub"
    return TemplateType(name, group, validity, folder, sms)


# The SDK's `message.template_type` enum (ory-kratos-client 25.4) knows the first eleven; Kratos's
# `verifiable_address_changed` is newer (its API's enum has it, the SDK's not yet), and its
# `authenticator_key_added` is left out: Warden's `second_factor_added` says what it says.
TEMPLATE_TYPES: dict[str, TemplateType] = {
    t.name: t
    for t in (
        _t("recovery_invalid", "recovery", "invalid", sms=False),
        _t("recovery_valid", "recovery", "valid", sms=True),
        _t("recovery_code_invalid", "recovery_code", "invalid", sms=False),
        _t("recovery_code_valid", "recovery_code", "valid", sms=True),
        _t("verification_invalid", "verification", "invalid", sms=False),
        _t("verification_valid", "verification", "valid", sms=True),
        _t("verification_code_invalid", "verification_code", "invalid", sms=False),
        _t("verification_code_valid", "verification_code", "valid", sms=True),
        _t("stub", None, None, sms=True),
        _t("login_code_valid", "login_code", "valid", sms=True),
        # Warden's own: the notice `selfservice.methods.code.config.notify_unknown_recipients` sends to
        # an identifier without an account (Kratos has no such notice; the SDK's enum lacks the type).
        _t("login_code_invalid", "login_code", "invalid", sms=True),
        _t("registration_code_valid", "registration_code", "valid", sms=True),
        # The notice `notify_previous_addresses` sends (Kratos's `courier.templates.verifiable_address_changed`,
        # with no valid/invalid level: `…verifiable_address_changed.email.subject`).
        _t("verifiable_address_changed", "verifiable_address_changed", None, sms=True),
        # Warden's own (docs/features.md, "Second factors"): a second factor was added to or removed from the
        # account. Kratos's `authenticator_key_added` is not in the SDK's enum (see above).
        _t("second_factor_added", "second_factor_added", "valid", sms=False),
        _t("second_factor_removed", "second_factor_removed", "valid", sms=False),
        # Warden's own (docs/security.md, EN-4): under `security.account_enumeration.mitigate`, a
        # registration with an address that already has an account tells that account's owner, and
        # the registrant sees what a new account would get.
        _t("registration_attempted", "registration_attempted", "valid", sms=False),
    )
}

# The Go field names of Kratos's template models, so that a command written with JSON names works too.
GO_FIELDS = (
    "To",
    "RecoveryURL",
    "RecoveryCode",
    "VerificationURL",
    "VerificationCode",
    "LoginCode",
    "RegistrationCode",
    "Identity",
    "Traits",
    "RequestURL",
    "TransientPayload",
    "ExpiresInMinutes",
    "ChangedAt",
    "MethodName",
    "Subject",
    "Body",
    "HTMLBody",
)
_WORD_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def json_name(go_name: str) -> str:
    """`RecoveryURL` -> `recovery_url`, `HTMLBody` -> `html_body`: Go's field name as Kratos's JSON tag."""
    return _WORD_BREAK.sub("_", go_name).lower()


_BY_JSON_NAME = {json_name(name): name for name in GO_FIELDS}


def go_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Template data under Go field names; known JSON names are renamed, anything else is kept."""
    return {_BY_JSON_NAME.get(key, key): value for key, value in data.items()}


def json_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Template data under Kratos's JSON names, as its HTTP channel sends `template_data`."""
    return {json_name(key) if key[:1].isupper() else key: value for key, value in data.items()}
