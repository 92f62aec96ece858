"""Which registrations hide existing accounts (services/selfservice/flows/registration/enumeration.py,
checklist EN-4): none unless `security.account_enumeration.mitigate`; with it, the password method
unless something after registration needs the account to exist, which start-up names by its key.
And where the owner of an account hears of the attempt (existing_account.recipients)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from services.selfservice.config import SelfserviceConfig
from services.selfservice.flows.registration.enumeration import hidden_methods
from services.selfservice.flows.registration.existing_account import recipients
from services.selfservice.hooks.web_hook_calls import WebHooks
from services.selfservice.traits import TraitSchemas
from shared.http.egress import Egress, EgressPolicy
from shared.jsonnet_sandbox import JsonnetSandbox
from tests.factories import settings_for

MITIGATE = {"security": {"account_enumeration": {"mitigate": True}}}
HOOK_URL = "https://hooks.example/secret-path?token=s3cr3t"


async def _hidden(tmp_path: Path, extra: dict[str, Any], enabled: Iterable[str] = ("password",)) -> frozenset[str]:
    settings = settings_for(tmp_path, "memory", extra)
    egress = Egress(EgressPolicy())
    try:
        hooks = await WebHooks.load(settings, egress, JsonnetSandbox())
    finally:
        await egress.close()
    schemas = TraitSchemas.from_settings(settings)
    return hidden_methods(settings, SelfserviceConfig.from_settings(settings), hooks, schemas, enabled)


def _after(**sections: Any) -> dict[str, Any]:
    return {"selfservice": {"flows": {"registration": {"after": sections}}}}


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


async def test_without_the_mitigation_nothing_is_hidden(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    hidden = await _hidden(tmp_path, _after(password={"hooks": [{"hook": "show_verification_ui"}]}))
    assert hidden == frozenset() and _warnings(caplog) == []


async def test_password_registration_without_a_session_is_hidden(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hooks = [{"hook": "show_verification_ui"}]
    hidden = await _hidden(tmp_path, {**MITIGATE, **_after(password={"hooks": hooks})})
    assert hidden == {"password"} and _warnings(caplog) == []  # code, passkey, oidc: never


async def test_the_session_hook_keeps_4000007_and_start_up_names_its_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hidden = await _hidden(tmp_path, {**MITIGATE, **_after(password={"hooks": [{"hook": "session"}]})})
    assert hidden == frozenset()
    [warning] = _warnings(caplog)
    assert "security.account_enumeration.mitigate" in warning
    assert "selfservice.flows.registration.after.password.hooks[0] (a session hook)" in warning


async def test_a_web_hook_after_registration_keeps_4000007_unless_it_interrupts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plain = {"hook": "web_hook", "config": {"url": HOOK_URL, "method": "POST"}}
    interrupting = {"hook": "web_hook", "config": {"url": HOOK_URL, "method": "POST", "can_interrupt": True}}
    hidden = await _hidden(tmp_path, {**MITIGATE, **_after(hooks=[interrupting, plain])})
    assert hidden == frozenset()
    [warning] = _warnings(caplog)
    assert "selfservice.flows.registration.after.hooks[1] (a web_hook)" in warning
    assert "hooks[0]" not in warning and "hooks.example" not in warning and "s3cr3t" not in warning  # keys, no values


async def test_a_flow_wide_web_hook_the_password_list_replaces_keeps_nothing_from_hiding(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Password's own `after` list runs instead of the flow-wide one (never both, as in Kratos): a
    plain web hook there calls nobody after a password registration."""
    plain = {"hook": "web_hook", "config": {"url": HOOK_URL, "method": "POST"}}
    after = _after(hooks=[plain], password={"hooks": [{"hook": "show_verification_ui"}]})
    hidden = await _hidden(tmp_path, {**MITIGATE, **after})
    assert hidden == {"password"} and _warnings(caplog) == []


async def test_a_disabled_password_method_is_not_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    hidden = await _hidden(tmp_path, {**MITIGATE, **_after(password={"hooks": [{"hook": "session"}]})}, enabled=())
    assert hidden == frozenset() and _warnings(caplog) == []


async def _with_a_two_identifier_schema(tmp_path: Path, *, selectable: bool) -> frozenset[str]:
    identifier = {"type": "string", "ory.sh/kratos": {"credentials": {"password": {"identifier": True}}}}
    traits = {"type": "object", "properties": {"email": identifier, "phone": identifier}}
    (tmp_path / "two.schema.json").write_text(json.dumps({"type": "object", "properties": {"traits": traits}}))
    schemas = [
        {"id": "default", "url": f"file://{tmp_path}/default.schema.json"},
        {"id": "two", "url": f"file://{tmp_path}/two.schema.json", "selfservice_selectable": selectable},
    ]
    after = _after(password={"hooks": [{"hook": "show_verification_ui"}]})
    return await _hidden(tmp_path, {**MITIGATE, **after, "identity": {"schemas": schemas}})


async def test_a_selectable_schema_with_two_identifiers_keeps_4000007(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A registration may be made for any schema marked `selfservice_selectable` (`?identity_schema=`),
    so each of them must be one a stand-in can hide."""
    assert await _with_a_two_identifier_schema(tmp_path, selectable=True) == frozenset()
    [warning] = _warnings(caplog)
    assert "identity.schemas (two: its traits carry identifiers or addresses other than one" in warning


async def test_a_schema_no_registration_may_use_does_not_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert await _with_a_two_identifier_schema(tmp_path, selectable=False) == {"password"}
    assert _warnings(caplog) == []


def _address(value: str, *, verified: bool = False, via: str = "email") -> dict[str, Any]:
    return {"value": value, "via": via, "verified": verified}


def test_the_owner_is_told_at_the_address_the_attempt_named() -> None:
    holder = {
        "verifiable_addresses": [_address("work@example.com", verified=True), _address("home@example.com")],
        "recovery_addresses": [_address("home@example.com")],
    }
    assert recipients(holder, {"home@example.com"}) == ["home@example.com"]


def test_an_attempt_that_named_no_address_of_the_owners_tells_its_verified_ones() -> None:
    holder = {"verifiable_addresses": [_address("a@example.com"), _address("b@example.com", verified=True)]}
    assert recipients(holder, {"alice"}) == ["b@example.com"]  # a username collided
    holder = {"verifiable_addresses": [_address("a@example.com"), _address("+15550100", via="sms")]}
    assert recipients(holder, {"alice"}) == ["a@example.com"]


@pytest.mark.parametrize(
    ("traits", "hides"),
    [
        ({"username": {"type": "string", "ory.sh/kratos": {"credentials": {"password": {"identifier": True}}}}}, True),
        (
            {
                "username": {"type": "string", "ory.sh/kratos": {"credentials": {"password": {"identifier": True}}}},
                "email": {"type": "string", "format": "email", "ory.sh/kratos": {"verification": {"via": "email"}}},
            },
            False,
        ),
        (
            {
                "emails": {
                    "type": "array",
                    "items": {
                        "type": "string",
                        "ory.sh/kratos": {
                            "credentials": {"password": {"identifier": True}},
                            "verification": {"via": "email"},
                        },
                    },
                }
            },
            False,
        ),
        ({"email": {"type": "string", "ory.sh/kratos": {"verification": {"via": "email"}}}}, False),
        (
            {
                "email": {
                    "type": ["string", "array"],
                    "ory.sh/kratos": {
                        "credentials": {"password": {"identifier": True}},
                        "verification": {"via": "email"},
                    },
                }
            },
            False,
        ),
        (
            {
                "email": {
                    "type": "string",
                    "anyOf": [{"format": "email"}, {"type": "array"}],
                    "ory.sh/kratos": {"credentials": {"password": {"identifier": True}}},
                }
            },
            False,
        ),
    ],
    ids=[
        "username-only",
        "username-and-email",
        "array-of-emails",
        "no-password-identifier",
        "string-or-array",
        "any-of-an-array",
    ],
)
async def test_a_schema_with_addresses_of_its_own_beside_the_identifier_cannot_hide(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, traits: dict[str, Any], hides: bool
) -> None:
    """A registration colliding on one identifier would bring another address of the registrant's
    own, which a new account would send a verification code and a stand-in cannot."""
    schema = {"type": "object", "properties": {"traits": {"type": "object", "properties": traits}}}
    (tmp_path / "custom.schema.json").write_text(json.dumps(schema))
    identity = {
        "default_schema_id": "custom",
        "schemas": [{"id": "custom", "url": f"file://{tmp_path}/custom.schema.json"}],
    }
    hidden = await _hidden(tmp_path, {**MITIGATE, "identity": identity})
    assert hidden == ({"password"} if hides else frozenset())
    warnings = _warnings(caplog)
    assert (warnings == []) if hides else ("identity.schemas (custom" in warnings[0])


async def test_passkey_and_webauthn_registration_are_named_as_not_covered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Given as the service gives them: a generator, read once.
    methods = ("password", "passkey", "webauthn", "code")
    hidden = await _hidden(tmp_path, MITIGATE, enabled=(m for m in methods))
    assert hidden == {"password"}
    assert [w for w in _warnings(caplog) if "not covered" in w] == [
        "security.account_enumeration.mitigate is on, but registration by passkey and webauthn is not covered: "
        "a registration with an existing identifier keeps Kratos's answer (4000007) there (docs/security.md)."
    ]
