"""services.identity.schemas: identity schemas, traits validation with Kratos's error texts, and the
identifiers and addresses the `ory.sh/kratos` extension derives from traits."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.identity.schemas import (
    Address,
    IdentitySchema,
    SchemaNotFound,
    SchemaRegistry,
    TraitsInvalid,
    UnknownSchema,
    encode_id,
)
from services.identity.schemas.formats import is_date_time, is_tel
from services.identity.schemas.normalize import e164, graceful, normalize_email
from shared.config import Settings, load_settings
from shared.email_syntax import is_email
from shared.errors import BadRequest, ConfigError, NotFound

QUICKSTART = Path(__file__).parents[1] / "fixtures" / "quickstart"
QUICKSTARTS = ("all-strategies", "email-password", "passkey", "phone-password", "webauthn")
# Traits each quickstart schema accepts (phone-password requires a phone and has no name).
VALID_TRAITS: dict[str, dict[str, Any]] = {
    "all-strategies": {"email": "Foo@Example.COM", "name": {"first": "Ada", "last": "Lovelace"}},
    "email-password": {"email": "Foo@Example.COM", "name": {"first": "Ada"}},
    "passkey": {"email": "Foo@Example.COM"},
    "phone-password": {"email": "Foo@Example.COM", "phone": "+49 151 1234 5678"},
    "webauthn": {"email": "Foo@Example.COM", "name": {"last": "Lovelace"}},
}
EMAIL = {"type": "string", "format": "email"}


def quickstart(name: str) -> SchemaRegistry:
    return SchemaRegistry.from_settings(load_settings([QUICKSTART / name / "kratos.yml"], {"DSN": "memory"}))


def default_schema(name: str) -> IdentitySchema:
    return quickstart(name).get("default")


def traits_schema(properties: dict[str, Any], **traits_keywords: Any) -> dict[str, Any]:
    traits = {"type": "object", "properties": properties, **traits_keywords}
    return {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {"traits": traits}}


def invalid(schema: IdentitySchema, traits: Any) -> TraitsInvalid:
    with pytest.raises(TraitsInvalid) as caught:
        schema.validate_traits(traits)
    return caught.value


def settings_with(tmp_path: Path, *documents: Any, base_url: str = "http://127.0.0.1:4433/") -> Settings:
    """A config whose `identity.schemas` are these documents, written as files (a str is a URL)."""
    entries = []
    for index, document in enumerate(documents):
        if isinstance(document, str):
            entries.append({"id": f"s{index}", "url": document})
            continue
        path = tmp_path / f"s{index}.schema.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        entries.append({"id": f"s{index}", "url": f"file://{path}"})
    config = {
        "dsn": "memory",
        "serve": {"public": {"base_url": base_url}},
        "identity": {"default_schema_id": "s0", "schemas": entries},
        "selfservice": {"default_browser_return_url": "http://127.0.0.1:4455/"},
    }
    (tmp_path / "kratos.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return load_settings([tmp_path / "kratos.yml"], {})


def build_error(settings: Settings) -> str:
    with pytest.raises(ConfigError) as caught:
        SchemaRegistry.from_settings(settings)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- the registry ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", QUICKSTARTS)
def test_each_quickstart_schema_builds_a_registry(name: str) -> None:
    registry = quickstart(name)
    assert registry.default_id == "default"
    assert [schema.id for schema in registry.all()] == ["default"]
    schema = registry.get("default")
    assert schema.url.endswith("identity.schema.json")
    assert "traits" in schema.document["properties"]
    assert registry.get("") is schema  # Kratos: an empty schema_id means the default one


def test_schema_url_is_the_public_base_url_and_the_unpadded_base64url_id() -> None:
    registry = quickstart("email-password")
    assert registry.schema_url("default") == "http://127.0.0.1:4433/schemas/ZGVmYXVsdA"
    assert encode_id("customer-v2") == "Y3VzdG9tZXItdjI"  # base64url, no "=" padding


@pytest.mark.parametrize("base_url", ["https://id.example.com/kratos/", "https://id.example.com/kratos"])
def test_schema_url_never_doubles_or_drops_the_slash(tmp_path: Path, base_url: str) -> None:
    registry = SchemaRegistry.from_settings(settings_with(tmp_path, traits_schema({"email": EMAIL}), base_url=base_url))
    assert registry.schema_url("s0") == "https://id.example.com/kratos/schemas/czA"


def test_schemas_keep_config_order_and_the_configured_default(tmp_path: Path) -> None:
    documents = [traits_schema({"email": EMAIL}), traits_schema({"username": {"type": "string"}})]
    registry = SchemaRegistry.from_settings(settings_with(tmp_path, *documents))
    assert [schema.id for schema in registry.all()] == ["s0", "s1"]
    assert registry.default_id == "s0" and registry.get("s1").document == documents[1]


def test_get_by_public_id_accepts_the_id_and_its_base64url_form() -> None:
    registry = quickstart("webauthn")
    assert registry.get_by_public_id("default") is registry.get("default")
    assert registry.get_by_public_id("ZGVmYXVsdA") is registry.get("default")
    assert registry.get_by_public_id(registry.schema_url("default").rsplit("/", 1)[1]).id == "default"


def test_an_unknown_public_id_is_a_404_with_kratos_text() -> None:
    registry = quickstart("webauthn")
    with pytest.raises(SchemaNotFound) as plain:
        registry.get_by_public_id("nope!")
    assert isinstance(plain.value, NotFound) and plain.value.code == 404
    assert plain.value.reason == "Identity schema `nope!` could not be found."
    with pytest.raises(SchemaNotFound) as encoded:
        registry.get_by_public_id(encode_id("customer"))
    assert encoded.value.reason == "Identity schema `customer` could not be found."  # decoded, as Kratos


def test_an_unknown_schema_id_is_a_400_with_kratos_text() -> None:
    with pytest.raises(UnknownSchema) as caught:
        quickstart("passkey").get("customer")
    assert isinstance(caught.value, BadRequest)
    assert caught.value.to_json()["error"]["reason"] == "Unable to find JSON Schema ID: customer"
    assert caught.value.to_json()["error"]["code"] == 400


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"type": "object"}, "config: identity.schemas[0]: not a valid identity schema: "),
        (traits_schema({}), "config: identity.schemas[0]: not a valid identity schema: "),
        (
            traits_schema({"email": {**EMAIL, "ory.sh/kratos": {"credentials": {"password": {"identifer": True}}}}}),
            "config: identity.schemas[0]: not a valid identity schema: ",
        ),
        (
            traits_schema({"email": {**EMAIL, "ory.sh/kratos": {"recovery": {"via": "pigeon"}}}}),
            "config: identity.schemas[0]: not a valid identity schema: ",
        ),
        (
            traits_schema({"email": {"$ref": "https://example.com/email.schema.json"}}),
            "config: identity.schemas[0]: $ref 'https://example.com/email.schema.json' does not point inside",
        ),
        (
            "https://example.com/identity.schema.json",
            "config: identity.schemas[0].url: remote identity schemas are not supported offline",
        ),
    ],
)
def test_a_document_that_is_not_a_usable_identity_schema_fails_the_build(
    tmp_path: Path, document: Any, expected: str
) -> None:
    assert build_error(settings_with(tmp_path, document)).startswith(expected)


def test_the_failing_schema_is_named_by_its_index(tmp_path: Path) -> None:
    message = build_error(settings_with(tmp_path, traits_schema({"email": EMAIL}), {"type": "object"}))
    assert message.startswith("config: identity.schemas[1]: ")


def test_a_schema_that_cannot_be_read_fails_the_build_naming_its_url() -> None:
    settings = Settings(dsn="memory", raw={"identity": {"schemas": [{"id": "default", "url": "base64://!!!"}]}})
    assert build_error(settings).startswith("config: identity.schemas[0].url: ")


def test_duplicate_ids_and_a_missing_default_fail_the_build() -> None:
    url = "base64://" + base64.b64encode(json.dumps(traits_schema({"email": EMAIL})).encode()).decode()
    twice = {"identity": {"schemas": [{"id": "a", "url": url}, {"id": "a", "url": url}], "default_schema_id": "a"}}
    expected = "config: identity.schemas[1].id: 'a' is used by another schema"
    assert build_error(Settings(dsn="memory", raw=twice)) == expected
    missing = {"identity": {"schemas": [{"id": "a", "url": url}], "default_schema_id": "b"}}
    assert "identity.default_schema_id" in build_error(Settings(dsn="memory", raw=missing))


# --- validating traits ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", QUICKSTARTS)
def test_valid_traits_pass(name: str) -> None:
    default_schema(name).validate_traits(VALID_TRAITS[name])


@pytest.mark.parametrize("name", QUICKSTARTS)
def test_a_missing_required_trait_names_the_field(name: str) -> None:
    error = invalid(default_schema(name), {key: value for key, value in VALID_TRAITS[name].items() if key != "email"})
    assert error.reason == 'I[#/traits] S[#/properties/traits/required] missing properties: "email"'
    assert error.errors == [
        {
            "instance_ptr": "#/traits/email",
            "schema_ptr": "#/properties/traits/required",
            "keyword": "required",
            "message": 'missing properties: "email"',
            "context": {"property": "email"},
        }
    ]


@pytest.mark.parametrize("name", QUICKSTARTS)
def test_a_wrong_type_names_the_field(name: str) -> None:
    error = invalid(default_schema(name), {**VALID_TRAITS[name], "email": 42})
    type_error = "I[#/traits/email] S[#/properties/traits/properties/email/type] expected string, but got number"
    assert error.reason == type_error
    assert [(e["instance_ptr"], e["keyword"]) for e in error.errors] == [("#/traits/email", "type")]


@pytest.mark.parametrize("name", QUICKSTARTS)
def test_a_bad_email_is_reported_as_kratos_does(name: str) -> None:
    error = invalid(default_schema(name), {**VALID_TRAITS[name], "email": "foo"})
    # The recovery extension (email-password, webauthn, all-strategies) fails the same way; once is enough.
    assert error.reason == 'I[#/traits/email] S[#/properties/traits/properties/email/format] "foo" is not valid "email"'
    assert error.errors == [
        {
            "instance_ptr": "#/traits/email",
            "schema_ptr": "#/properties/traits/properties/email/format",
            "keyword": "format",
            "message": '"foo" is not valid "email"',
            "context": {"format": "email", "value": "foo"},
        }
    ]
    body = error.to_json()["error"]
    assert body["code"] == 400 and body["status"] == "Bad Request" and body["reason"] == error.reason


def test_several_failures_come_under_one_validation_failed_line() -> None:
    error = invalid(default_schema("phone-password"), {"email": "foo", "nickname": "x"})
    assert error.reason.splitlines() == [
        "I[#/traits] S[#/properties/traits] validation failed",
        '  I[#/traits/email] S[#/properties/traits/properties/email/format] "foo" is not valid "email"',
        '  I[#/traits] S[#/properties/traits/required] missing properties: "phone"',
        '  I[#/traits] S[#/properties/traits/additionalProperties] additionalProperties "nickname" not allowed',
    ]
    assert [e["instance_ptr"] for e in error.errors] == ["#/traits/email", "#/traits/phone", "#/traits"]


def test_traits_must_be_an_object_and_emails_are_not_trimmed_before_validation() -> None:
    schema = default_schema("email-password")
    assert invalid(schema, None).reason == "I[#/traits] S[#/properties/traits/type] expected object, but got null"
    # Kratos's email format rejects surrounding spaces too: only identifiers are normalised.
    assert invalid(schema, {"email": " foo@example.com"}).errors[0]["keyword"] == "format"
    assert invalid(schema, {"email": "a@"}).errors[0]["keyword"] == "format"


def test_length_pattern_and_enum_use_ory_wording() -> None:
    schema = IdentitySchema(
        "x",
        "base64://",
        traits_schema(
            {
                "username": {"type": "string", "minLength": 3, "pattern": "^[a-z]+$"},
                "plan": {"enum": ["free", "pro"]},
            }
        ),
    )
    messages = {e["keyword"]: e["message"] for e in invalid(schema, {"username": "A1", "plan": "gold"}).errors}
    assert messages == {
        "minLength": "length must be >= 3, but got 2",
        "pattern": 'does not match pattern "^[a-z]+$"',
        "enum": 'value must be one of "free", "pro"',
    }


def test_dates_and_uris_are_checked_without_extra_packages() -> None:
    schema = IdentitySchema(
        "x",
        "base64://",
        traits_schema(
            {
                "born": {"type": "string", "format": "date"},
                "seen": {"type": "string", "format": "date-time"},
                "site": {"type": "string", "format": "uri"},
            }
        ),
    )
    schema.validate_traits({"born": "1815-12-10", "seen": "2024-02-29T12:00:00.5Z", "site": "https://ada.example"})
    error = invalid(schema, {"born": "1815-13-10", "seen": "yesterday", "site": "ada.example"})
    assert sorted(e["instance_ptr"] for e in error.errors) == ["#/traits/born", "#/traits/seen", "#/traits/site"]


# --- identifiers and addresses --------------------------------------------------------------------

PADDED = {"email": "  Foo@Example.COM "}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("email-password", {"password": ["foo@example.com"]}),
        ("webauthn", {"password": ["foo@example.com"], "webauthn": ["foo@example.com"]}),
        ("passkey", {"password": ["foo@example.com"], "webauthn": ["foo@example.com"]}),
        (
            "all-strategies",
            {"password": ["foo@example.com"], "webauthn": ["foo@example.com"], "code": ["foo@example.com"]},
        ),
    ],
)
def test_identifiers_are_extracted_and_normalised(name: str, expected: dict[str, list[str]]) -> None:
    assert default_schema(name).credential_identifiers(PADDED) == expected


def test_a_phone_identifier_becomes_e164() -> None:
    traits = {"email": "Foo@Example.COM", "phone": " +49 (0) 151 1234-5678 "}
    schema = default_schema("phone-password")
    assert schema.credential_identifiers(traits) == {
        "password": ["foo@example.com", "+4915112345678"],
        "code": ["foo@example.com"],
    }
    assert schema.code_addresses(traits) == [{"channel": "email", "address": "foo@example.com"}]


def test_totp_and_passkey_labels_are_not_identifiers() -> None:
    schema = default_schema("all-strategies")
    assert "passkey" not in schema.credential_identifiers(PADDED)
    assert schema.credential_labels(PADDED) == {"passkey": ["Foo@Example.COM"]}
    assert default_schema("email-password").credential_labels(PADDED) == {}


@pytest.mark.parametrize(
    ("name", "verifiable", "recovery"),
    [
        ("email-password", [Address("email", "foo@example.com")], [Address("email", "foo@example.com")]),
        ("webauthn", [Address("email", "foo@example.com")], [Address("email", "foo@example.com")]),
        ("passkey", [], []),
        ("phone-password", [Address("email", "foo@example.com"), Address("sms", "+4915112345678")], []),
    ],
)
def test_verifiable_and_recovery_addresses_come_with_their_channel(
    name: str, verifiable: list[Address], recovery: list[Address]
) -> None:
    traits = {"email": " Foo@Example.COM", "phone": "+49 151 1234 5678"}
    schema = default_schema(name)
    assert schema.verifiable_addresses(traits) == verifiable
    assert schema.recovery_addresses(traits) == recovery


def test_traits_are_stored_as_submitted() -> None:
    traits = {"email": "Foo@Example.COM", "name": {"first": " Ada "}}
    copied = default_schema("email-password").normalise_traits(traits)
    assert copied == traits and copied is not traits and copied["name"] is not traits["name"]


NESTED = {
    "$id": "https://example.com/nested.schema.json",
    "$schema": "http://json-schema.org/draft-07/schema#",
    "definitions": {
        "email": {
            "type": "string",
            "format": "email",
            "ory.sh/kratos": {
                "credentials": {"password": {"identifier": True}, "code": {"identifier": True, "via": "email"}},
                "recovery": {"via": "email"},
            },
        },
        "phone": {
            "type": "string",
            "format": "tel",
            "ory.sh/kratos": {
                "credentials": {"code": {"identifier": True, "via": "sms"}},
                "verification": {"via": "sms"},
            },
        },
    },
    "type": "object",
    "properties": {
        "traits": {
            "type": "object",
            "properties": {
                "emails": {"type": "array", "items": {"$ref": "#/definitions/email"}},
                "contact": {
                    "type": "object",
                    "properties": {
                        "phone": {"$ref": "#/definitions/phone"},
                        "username": {
                            "type": "string",
                            "ory.sh/kratos": {
                                "credentials": {"password": {"identifier": True}, "totp": {"account_name": True}}
                            },
                        },
                    },
                },
                "backup": {  # a $ref through the schema's own $id is still local
                    "anyOf": [
                        {"$ref": "https://example.com/nested.schema.json#/definitions/email"},
                        {"type": "integer"},
                    ]
                },
            },
        }
    },
}
NESTED_TRAITS = {
    "emails": ["Ada@Example.com", "ada@example.com", "ADA@work.example"],
    "contact": {"phone": "+1 (415) 555-2671", "username": " Ada "},
    "backup": "Backup@Example.com",
}


def test_nested_objects_arrays_refs_and_anyof_branches_are_followed(tmp_path: Path) -> None:
    schema = SchemaRegistry.from_settings(settings_with(tmp_path, NESTED)).get("s0")
    schema.validate_traits(NESTED_TRAITS)
    assert schema.credential_identifiers(NESTED_TRAITS) == {
        "password": ["ada@example.com", "ada@work.example", "ada", "backup@example.com"],
        "code": ["ada@example.com", "ada@work.example", "+14155552671", "backup@example.com"],
    }
    assert schema.code_addresses(NESTED_TRAITS) == [  # sorted by address, as Kratos stores them
        {"channel": "sms", "address": "+14155552671"},
        {"channel": "email", "address": "ada@example.com"},
        {"channel": "email", "address": "ada@work.example"},
        {"channel": "email", "address": "backup@example.com"},
    ]
    assert schema.verifiable_addresses(NESTED_TRAITS) == [Address("sms", "+14155552671")]
    recovery = [address.value for address in schema.recovery_addresses(NESTED_TRAITS)]
    assert recovery == ["ada@example.com", "ada@work.example", "backup@example.com"]
    assert schema.credential_labels(NESTED_TRAITS) == {"totp": ["Ada"]}
    assert schema.credential_identifiers({**NESTED_TRAITS, "backup": 7})["password"][-1] == "ada"  # integer branch


def test_errors_inside_arrays_and_refs_point_at_the_item_and_the_referenced_schema() -> None:
    schema = IdentitySchema("nested", "base64://", NESTED)
    error = invalid(schema, {"emails": ["ada@example.com", "nope", 3], "contact": {"phone": "12"}})
    lines = error.reason.splitlines()
    assert lines[0] == "I[#/traits] S[#/properties/traits] validation failed"
    assert '  I[#/traits/emails/1] S[#/definitions/email/format] "nope" is not valid "email"' in lines
    assert "  I[#/traits/emails/2] S[#/definitions/email/type] expected string, but got number" in lines
    pointers = {e["instance_ptr"] for e in error.errors}
    assert pointers == {"#/traits/emails/1", "#/traits/emails/2", "#/traits/contact/phone"}


def test_extension_checks_join_the_schema_checks() -> None:
    schema = IdentitySchema(
        "x",
        "base64://",
        traits_schema(
            {
                "phone": {"type": "string", "ory.sh/kratos": {"verification": {"via": "sms"}}},
                "mobile": {"type": "string", "ory.sh/kratos": {"recovery": {"via": "sms"}}},
                "mail": {"type": "string", "ory.sh/kratos": {"verification": {"via": "email"}}},
            }
        ),
    )
    error = invalid(schema, {"phone": "+4915112345678", "mobile": "12", "mail": "x"})
    messages = {e["instance_ptr"]: e["message"] for e in error.errors}
    assert messages == {
        "#/traits/phone": "no format specified. A format is required if verification is enabled. "
        'If this was intentional, please set "format" to "no-validate"',
        "#/traits/mobile": '"12" is not valid "tel" for "sms"',
        "#/traits/mail": '"x" is not valid "email"',
    }


# --- normalisation and formats --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  Foo@Example.COM ", "foo@example.com"),
        (" Alice ", "alice"),  # Kratos lower-cases usernames too
        ("+1 (415) 555-2671", "+14155552671"),
        ("+49 (0) 30 1234567", "+49301234567"),
        ("0151 1234 5678", "0151 1234 5678"),  # not international: left as a username would be
    ],
)
def test_graceful_normalisation(value: str, expected: str) -> None:
    assert graceful(value) == expected


def test_email_and_phone_helpers() -> None:
    assert normalize_email(" A@B.CO ") == "a@b.co" and normalize_email(" Alice ") == " Alice "
    assert e164("+44 20 7946 0958") == "+442079460958" and e164("12345") is None and e164("+0123456789") is None


@pytest.mark.parametrize(
    "value", ["a@b.co", "first.last+tag@sub.example.org", '"odd one"@example.com', '"a\\"\tb"@c.co', "x@localhost"]
)
def test_emails_that_pass(value: str) -> None:
    assert is_email(value)


@pytest.mark.parametrize(
    "value",
    [
        "foo",
        "@b.co",
        "a@",
        "a b@c.co",
        "a@b c.co",
        "a@-b.co",
        "a@b.co ",
        "a..b@c.co",
        "Ada <a@b.co>",
        '"a\\\rb"@c.co',  # a quoted pair of a bare CR (Go's net/mail: VCHAR or WSP only)
        '"a\x01"@c.co',
        '"a\\\x7f"@c.co',
    ],
)
def test_emails_that_fail(value: str) -> None:
    assert not is_email(value)


def test_tel_and_date_time_formats() -> None:
    assert is_tel("+1 415 555 2671") and not is_tel("415 555 2671") and not is_tel("+1")
    assert is_date_time("2024-02-29T23:59:59+01:00") and not is_date_time("2023-02-29T00:00:00Z")


def test_empty_and_non_string_values_are_no_identifiers() -> None:
    schema = default_schema("all-strategies")
    assert schema.credential_identifiers({"email": "  "}) == {}
    assert schema.credential_identifiers({"email": 42}) == {}
    assert schema.verifiable_addresses({"email": ""}) == [] and schema.code_addresses({"email": ""}) == []


def test_pointers_escape_property_names_as_ory_does() -> None:
    properties = {"first name": {"type": "string"}, "a/b": {"type": "string"}}
    schema = IdentitySchema("x", "base64://", traits_schema(properties))
    pointers = {e["instance_ptr"] for e in invalid(schema, {"first name": 1, "a/b": 2}).errors}
    assert pointers == {"#/traits/first%20name", "#/traits/a~1b"}


def test_a_draft_2020_12_schema_with_defs_is_validated_by_its_own_draft(tmp_path: Path) -> None:
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"email": {**EMAIL, "ory.sh/kratos": {"credentials": {"password": {"identifier": True}}}}},
        "type": "object",
        "properties": {"traits": {"type": "object", "properties": {"email": {"$ref": "#/$defs/email"}}}},
    }
    schema = SchemaRegistry.from_settings(settings_with(tmp_path, document)).get("s0")
    assert schema.credential_identifiers({"email": "Ada@Example.com"}) == {"password": ["ada@example.com"]}
    error = invalid(schema, {"email": "ada"})
    assert error.reason == 'I[#/traits/email] S[#/$defs/email/format] "ada" is not valid "email"'


# --- review finding 4: patterns on RE2 --------------------------------------------------------------


@pytest.mark.timeout(60)  # Python's backtracking `re` needs 2**64 steps for this value: it never ends
def test_finding_4_backtracking_pattern_runs_in_linear_time_on_re2(tmp_path: Path) -> None:
    catastrophic = traits_schema(
        {
            "nick": {"type": "string", "pattern": "^(a+)+$"},
            "tags": {"patternProperties": {"^(b+)+$": {"type": "string"}}},
        }
    )
    schema = IdentitySchema(id="re2", url="file://re2.json", document=catastrophic)
    problem = invalid(schema, {"nick": "a" * 64 + "!"})
    assert "does not match" in str(problem)
    schema.validate_traits({"nick": "a" * 64, "tags": {"b" * 64 + "!": 1}})  # no such property: no check
    invalid(schema, {"tags": {"b" * 64: 1}})
    # Go's (RE2's) semantics, as Kratos's: \d is ASCII only, and look-arounds do not exist.
    digits = IdentitySchema(id="d", url="file://d.json", document=traits_schema({"pin": {"pattern": "^\\d+$"}}))
    digits.validate_traits({"pin": "123"})
    invalid(digits, {"pin": "١٢٣"})  # Arabic-Indic digits: Python's \d takes them, Go's does not
    lookahead = traits_schema({"x": {"type": "string", "pattern": "^(?=a)a$"}})
    assert "not RE2 syntax" in build_error(settings_with(tmp_path, lookahead))
