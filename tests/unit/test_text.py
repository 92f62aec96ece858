"""shared.text: Kratos's UI messages (ids, texts, types, context) and error ids, and how a traits
validation problem becomes the message Kratos shows for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.identity.schemas import IdentitySchema, TraitsInvalid
from shared import text
from shared.text import Message, from_schema_error

T0 = datetime(2020, 1, 1, 0, 59, 59, tzinfo=UTC)


def as_json(message: Message) -> dict[str, Any]:
    return message.to_json()


# --- the message object ---------------------------------------------------------------------------


def test_context_is_left_out_when_empty_as_kratos_does() -> None:
    assert as_json(text.sign_in_with_password()) == {"id": 1010022, "text": "Sign in with password", "type": "info"}
    assert as_json(text.property_missing("email")) == {
        "id": 4000002,
        "text": "Property email is missing.",
        "type": "error",
        "context": {"property": "email"},
    }


def test_from_json_round_trips_both_shapes() -> None:
    for message in (text.label_password(), text.generated_label("E-Mail", "traits.email"), text.settings_saved()):
        assert Message.from_json(message.to_json()) == message
    with_empty_context = {"id": 1070001, "text": "Password", "type": "info", "context": {}}
    assert Message.from_json(with_empty_context) == text.label_password()


def test_messages_are_frozen_and_hashable() -> None:
    message = text.too_short(3, 1)
    with pytest.raises(AttributeError):
        message.id = 1  # type: ignore[misc]
    assert hash(message) == hash(text.too_short(3, 1))
    assert text.too_short(3, 1) != text.too_short(3, 2)


def test_to_json_returns_a_copy_of_the_context() -> None:
    message = text.property_missing("email")
    message.to_json()["context"]["property"] = "changed"
    assert message.context == {"property": "email"}


# --- a representative set, exactly as Kratos sends them ---------------------------------------------

CREDENTIALS = (
    "The provided credentials are invalid, check for spelling mistakes in your password or username, "
    "email address, or phone number."
)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (text.sign_in(), (1010001, "Sign in", "info", {})),
        (
            text.sign_in_with("Google", "google"),
            (1010002, "Sign in with Google", "info", {"provider": "Google", "provider_id": "google"}),
        ),
        (text.sign_in_with_password(), (1010022, "Sign in with password", "info", {})),
        (text.sign_up(), (1040001, "Sign up", "info", {})),
        (text.label_password(), (1070001, "Password", "info", {})),
        (
            text.generated_label("E-Mail", "traits.email"),
            (1070002, "E-Mail", "info", {"title": "E-Mail", "name": "traits.email"}),
        ),
        (text.label_save(), (1070003, "Save", "info", {})),
        (text.label_id(), (1070004, "ID", "info", {})),
        (text.label_email(), (1070007, "Email", "info", {})),
        (text.label_resend_code(), (1070008, "Resend code", "info", {})),
        (text.settings_saved(), (1050001, "Your changes have been saved!", "success", {})),
        (text.email_verified(), (1080002, "You successfully verified your email address.", "success", {})),
        (text.validation_failed("boom"), (4000001, "boom", "error", {"reason": "boom"})),
        (
            text.too_short(5, 3),
            (4000003, "length must be >= 5, but got 3", "error", {"min_length": 5, "actual_length": 3}),
        ),
        (
            text.pattern_mismatch("^[a-z]*$"),
            (4000004, 'does not match pattern "^[a-z]*$"', "error", {"pattern": "^[a-z]*$"}),
        ),
        (
            text.password_policy_violation("it is too short"),
            (4000005, "The password can not be used because it is too short.", "error", {"reason": "it is too short"}),
        ),
        (text.invalid_credentials(), (4000006, CREDENTIALS, "error", {})),
        (
            text.identifier_exists(),
            (4000007, "An account with the same identifier (email, phone, username, ...) exists already.", "error", {}),
        ),
        (
            text.too_long(5, 6),
            (4000017, "length must be <= 5, but got 6", "error", {"max_length": 5, "actual_length": 6}),
        ),
        (text.below_minimum(5.0, 3.0), (4000018, "must be >= 5 but found 3", "error", {"minimum": 5, "actual": 3})),
        (text.not_multiple_of(7, 3), (4000022, "3 not multipleOf 7", "error", {"base": 7, "actual": 3})),
        (
            text.wrong_type(["number"], "string"),
            (
                4000026,
                "expected number, but got string",
                "error",
                {"allowed_types": ["number"], "actual_type": "string"},
            ),
        ),
        (
            text.password_too_similar(),
            (4000031, "The password can not be used because it is too similar to the identifier.", "error", {}),
        ),
        (
            text.password_too_short(8, 5),
            (
                4000032,
                "The password must be at least 8 characters long, but got 5.",
                "error",
                {"min_length": 8, "actual_length": 5},
            ),
        ),
        (
            text.password_too_long(72, 80),
            (
                4000033,
                "The password must be at most 72 characters long, but got 80.",
                "error",
                {"max_length": 72, "actual_length": 80},
            ),
        ),
        (
            text.password_breached(),
            (4000034, "The password has been found in data breaches and must no longer be used.", "error", {}),
        ),
        (
            text.password_breached(101),
            (
                4000034,
                "The password has been found in data breaches and must no longer be used.",
                "error",
                {"breaches": 101},
            ),
        ),
        (
            text.no_login_strategy(),
            (
                4010002,
                "Could not find a strategy to log you in with. Did you fill out the form correctly?",
                "error",
                {},
            ),
        ),
        (
            text.no_registration_strategy(),
            (
                4010003,
                "Could not find a strategy to sign you up with. Did you fill out the form correctly?",
                "error",
                {},
            ),
        ),
        (
            text.no_settings_strategy(),
            (
                4010004,
                "Could not find a strategy to update your settings. Did you fill out the form correctly?",
                "error",
                {},
            ),
        ),
        (
            text.identity_disabled(),
            (4010011, "This account has been disabled. Please contact support for assistance.", "error", {}),
        ),
        (text.system_error("no"), (5000001, "no", "error", {"reason": "no"})),
    ],
)
def test_message(message: Message, expected: tuple[int, str, str, dict[str, Any]]) -> None:
    assert (message.id, message.text, message.type, message.context) == expected


def test_flow_expired_messages_word_the_minutes_and_carry_the_time() -> None:
    context = {"expired_at": "2020-01-01T00:59:59Z", "expired_at_unix": 1577840399}
    now = T0 + timedelta(minutes=1)
    for factory, id, flow in [
        (text.login_flow_expired, 4010001, "login"),
        (text.registration_flow_expired, 4040001, "registration"),
        (text.settings_flow_expired, 4050001, "settings"),
        (text.recovery_flow_expired, 4060005, "recovery"),
        (text.verification_flow_expired, 4070005, "verification"),
    ]:
        assert factory(T0, now).to_json() == {
            "id": id,
            "text": f"The {flow} flow expired 1.00 minutes ago, please try again.",
            "type": "error",
            "context": context,
        }
    late = text.login_flow_expired(T0.replace(microsecond=250000), T0 + timedelta(seconds=30))
    assert late.text == "The login flow expired 0.50 minutes ago, please try again."
    assert late.context["expired_at"] == "2020-01-01T00:59:59.25Z"


def test_naive_times_are_taken_as_utc() -> None:
    naive = T0.replace(tzinfo=None)
    assert text.login_flow_expired(naive, naive + timedelta(minutes=2)) == text.login_flow_expired(
        T0, T0 + timedelta(minutes=2)
    )


def test_recovery_success_counts_down_the_privileged_session() -> None:
    message = text.recovery_successful(T0 + timedelta(minutes=1, seconds=1), T0 + timedelta(seconds=1))
    assert message.to_json() == {
        "id": 1060001,
        "text": "You successfully recovered your account. Please change your password or set up an alternative "
        "login method (e.g. social sign in) within the next 1.00 minutes.",
        "type": "success",
        "context": {
            "privilegedSessionExpiresAt": "2020-01-01T01:01:00Z",
            "privileged_session_expires_at": "2020-01-01T01:01:00Z",
            "privileged_session_expires_at_unix": 1577840460,
        },
    }


def test_lookup_codes_list_nests_the_code_messages() -> None:
    used = text.lookup_code_used(T0)
    assert used.to_json() == {
        "id": 1050014,
        "text": "Secret was used at 2020-01-01 00:59:59 +0000 UTC",
        "type": "info",
        "context": {"used_at": "2020-01-01T00:59:59Z", "used_at_unix": 1577840399},
    }
    listed = text.lookup_code_list([text.lookup_code("abcd"), used])
    assert listed.id == 1050015
    assert listed.text == "abcd, Secret was used at 2020-01-01 00:59:59 +0000 UTC"
    assert listed.context == {"secrets": [text.lookup_code("abcd").to_json(), used.to_json()]}


def test_account_linking_messages() -> None:
    message = text.login_and_link_account("a@b.c", "google", "http://x/login", ["password"], ["google"])
    assert message.id == 1010016
    assert message.text == (
        'You tried to sign in with "a@b.c", but that email is already used by another account. Sign in to your '
        'account with one of the options below to add your account "a@b.c" at "google" as another way to sign in.'
    )
    hints = text.identifier_exists_with_hints(["password", "oidc", "saml"], ["google", "github"], "a@b.c")
    assert hints.id == 4000028
    assert hints.text == (
        "You tried signing in with a@b.c which is already in use by another account. You can sign in using "
        "your password, or social sign in. You can sign in using one of the following social sign in "
        "providers: Google, Github."
    )
    assert hints.context == {
        "available_credential_types": ["password", "oidc", "saml"],
        "available_oidc_providers": ["google", "github"],
        "credential_identifier_hint": "a@b.c",
    }
    assert text.identifier_exists_with_hints([], [], "").text == (
        "You tried signing in with an email, phone, or username which is already in use by another account."
    )


def test_error_ids() -> None:
    assert text.SESSION_INACTIVE == "session_inactive"
    assert text.SELF_SERVICE_FLOW_EXPIRED == "self_service_flow_expired"
    assert text.SECURITY_CSRF_VIOLATION == "security_csrf_violation"
    assert text.SESSION_ALREADY_AVAILABLE == "session_already_available"
    assert text.SELF_SERVICE_FLOW_RETURN_TO_FORBIDDEN == "self_service_flow_return_to_forbidden"
    assert text.BROWSER_LOCATION_CHANGE_REQUIRED == "browser_location_change_required"
    assert text.SESSION_REFRESH_REQUIRED == "session_refresh_required"
    assert text.SESSION_AAL1_REQUIRED == "session_aal1_required"
    assert text.SESSION_AAL2_REQUIRED == "session_aal2_required"
    assert text.SELF_SERVICE_FLOW_DISABLED == "self_service_flow_disabled"
    assert text.IDENTITY_DISABLED == "identity_disabled"
    assert text.SECURITY_IDENTITY_MISMATCH == "security_identity_mismatch"


# --- from_schema_error ----------------------------------------------------------------------------


def problems(properties: dict[str, Any], traits: Any, required: list[str] | None = None) -> list[dict[str, Any]]:
    traits_schema = {"type": "object", "properties": properties, "required": required or []}
    document = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"traits": traits_schema},
    }
    with pytest.raises(TraitsInvalid) as caught:
        IdentitySchema("x", "base64://", document).validate_traits(traits)
    return caught.value.errors


def translated(properties: dict[str, Any], traits: Any, required: list[str] | None = None) -> dict[str, Message]:
    return {p["instance_ptr"]: from_schema_error(p) for p in problems(properties, traits, required)}


def test_identity_service_problems_become_kratos_messages() -> None:
    found = translated(
        {
            "email": {"type": "string", "format": "email"},
            "nick": {"type": "string", "maxLength": 2},
            "age": {"type": "integer", "minimum": 18},
            "name": {"type": "string"},
            "plan": {"const": "free"},
            "tier": {"enum": ["a", "b"]},
        },
        {"email": "nope", "nick": "abc", "age": 17, "name": 1, "plan": "pro", "tier": "c"},
        required=["phone"],
    )
    assert found["#/traits/phone"] == text.property_missing("phone")
    # Kratos has no text for `format` or `enum`: the generic 4000001 carries ory/jsonschema's message.
    assert found["#/traits/email"] == text.validation_failed('"nope" is not valid "email"')
    assert found["#/traits/tier"] == text.validation_failed('value must be one of "a", "b"')
    assert found["#/traits/nick"] == text.too_long(2, 3)
    assert found["#/traits/age"] == text.below_minimum(18, 17)
    assert found["#/traits/name"] == text.wrong_type(["string"], "number")
    # Kratos keeps the quotes of ory/jsonschema's `value must be "free"` in `expected`.
    assert found["#/traits/plan"].to_json() == {
        "id": 4000029,
        "text": 'must be equal to constant "free"',
        "type": "error",
        "context": {"expected": '"free"'},
    }


@pytest.mark.parametrize(
    ("properties", "traits", "expected"),
    [
        ({"u": {"type": "string", "minLength": 3}}, {"u": "ab"}, text.too_short(3, 2)),
        ({"u": {"type": "string", "pattern": "^[a-z]+$"}}, {"u": "A"}, text.pattern_mismatch("^[a-z]+$")),
        ({"n": {"type": "number", "exclusiveMaximum": 10}}, {"n": 10}, text.not_below_maximum(10, 10)),
        ({"n": {"type": "number", "exclusiveMinimum": 1}}, {"n": 1}, text.not_above_minimum(1, 1)),
        ({"n": {"type": "number", "maximum": 1}}, {"n": 2.5}, text.above_maximum(1, 2.5)),
        ({"n": {"type": "number", "multipleOf": 0.5}}, {"n": 0.75}, text.not_multiple_of(0.5, 0.75)),
        ({"t": {"type": "array", "minItems": 2}}, {"t": ["x"]}, text.too_few_items(2, 1)),
        ({"t": {"type": "array", "maxItems": 1}}, {"t": ["x", "y"]}, text.too_many_items(1, 2)),
        ({"t": {"type": "array", "uniqueItems": True}}, {"t": ["x", "y", "x"]}, text.items_not_unique(0, 2)),
        ({"o": {"const": {"a": 1}}}, {"o": {"a": 2}}, text.const_failed()),
    ],
)
def test_each_keyword_from_the_identity_service(properties: dict[str, Any], traits: Any, expected: Message) -> None:
    [problem] = problems(properties, traits)
    assert from_schema_error(problem) == expected


@pytest.mark.parametrize(
    ("problem", "expected"),
    [
        # Without a context the values are read back from ory/jsonschema's message, as Kratos does.
        ({"keyword": "minLength", "message": "length must be >= 5, but got 3"}, text.too_short(5, 3)),
        ({"keyword": "maximum", "message": "must be <= 5 but found 6"}, text.above_maximum(5, 6)),
        ({"keyword": "multipleOf", "message": "3 not multipleOf 7"}, text.not_multiple_of(7, 3)),
        ({"keyword": "pattern", "message": 'does not match pattern "^\\\\d+$"'}, text.pattern_mismatch("^\\d+$")),
        (
            {"keyword": "type", "message": "expected string or null, but got number"},
            text.wrong_type(["string", "null"], "number"),
        ),
        ({"keyword": "uniqueItems", "message": "items at index 1 and 3 are equal"}, text.items_not_unique(1, 3)),
        (
            {"keyword": "required", "instance_ptr": "#/traits/name/first", "message": 'missing properties: "first"'},
            text.property_missing("first"),
        ),
        # The keyword may also come from the schema pointer only.
        (
            {"schema_ptr": "#/properties/traits/properties/u/maxLength", "message": "length must be <= 2, but got 4"},
            text.too_long(2, 4),
        ),
        # Unparseable values fall back to -1, as Kratos's Sscanf does.
        ({"keyword": "minItems", "message": "too few"}, text.too_few_items(-1, -1)),
        ({"keyword": "oneOf", "message": "oneOf failed"}, text.validation_failed("oneOf failed")),
    ],
)
def test_problem_without_context(problem: dict[str, Any], expected: Message) -> None:
    assert from_schema_error(problem) == expected
