"""Identity schemas whose traits are written with local `$ref`s: the self-service forms, identifier
labels and protected traits read the referenced schema (`shared/schema_refs.py`, done once when the
schema is loaded), the document itself stays as written, and a reference cycle stops the start with
one line instead of hanging a flow."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from services.identity.schemas import SchemaRegistry
from services.selfservice.traits import TraitSchemas
from shared.errors import ConfigError
from shared.schema_refs import MAX_NODES, RefCycle, check_endless_refs, resolved
from tests.unit.test_identity_schemas import build_error, settings_with

EXTENSION = {
    "credentials": {"password": {"identifier": True}, "code": {"identifier": True, "via": "email"}},
    "verification": {"via": "email"},
    "recovery": {"via": "email"},
}
SCHEMA: dict[str, Any] = {
    "$id": "https://warden.test/schemas/definitions.json",
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "definitions": {
        "email": {"type": "string", "format": "email", "title": "E-Mail", "ory.sh/kratos": EXTENSION},
        "name": {
            "type": "object",
            "properties": {
                # ory/jsonschema ignores a $ref's siblings: the title is the definition's
                "first": {"$ref": "#/definitions/word", "title": "Ignored"},
                "last": {"$ref": "https://warden.test/schemas/definitions.json#/definitions/surname"},
            },
            "required": ["first"],
        },
        "word": {"type": "string", "title": "First name", "minLength": 1},
        "surname": {"type": "string", "title": "Last name"},
    },
    "properties": {
        "traits": {
            "type": "object",
            "properties": {"email": {"$ref": "#/definitions/email"}, "name": {"$ref": "#/definitions/name"}},
            "required": ["email"],
            "additionalProperties": False,
        }
    },
}


def schemas(document: dict[str, Any]) -> TraitSchemas:
    return TraitSchemas({"default": resolved(document)}, "default")


def with_traits(properties: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    traits = {"type": "object", "properties": properties}
    return {"type": "object", "definitions": definitions, "properties": {"traits": traits}}


def test_the_form_describes_the_traits_behind_the_references() -> None:
    nodes = [(n.attributes, n.meta["label"].text) for n in schemas(SCHEMA).nodes()]
    assert nodes == [
        (
            {"name": "traits.email", "type": "email", "required": True, "disabled": False, "autocomplete": "email"},
            "E-Mail",
        ),
        ({"name": "traits.name.first", "type": "text", "required": True, "disabled": False}, "First name"),
        ({"name": "traits.name.last", "type": "text", "required": False, "disabled": False}, "Last name"),
    ]


def test_the_extension_behind_a_reference_marks_the_identifier_and_the_protected_trait() -> None:
    traits = schemas(SCHEMA)
    assert [f.path for f in traits.identifier_fields("password")] == ["email"]
    assert traits.identifier_values("password", {"email": "ada@example.com", "name": {"first": "Ada"}}) == [
        "ada@example.com"
    ]
    assert traits.identifier_label("password").text == "E-Mail"
    assert traits.identifier_label("code").text == "E-Mail"
    assert traits.protected_paths() == ["email"], "the name is no identifier or address"


def test_the_document_itself_stays_as_written() -> None:
    before = copy.deepcopy(SCHEMA)
    resolved(SCHEMA)
    assert before == SCHEMA


def test_fields_declared_in_all_of_branches_are_form_fields() -> None:
    """Kratos's form builder lists the properties of `allOf` (and `anyOf`/`oneOf`) branches too."""
    document = with_traits({}, {"contact": {"properties": {"email": {"$ref": "#/definitions/email"}}}})
    document["definitions"]["email"] = SCHEMA["definitions"]["email"]
    traits = document["properties"]["traits"]
    traits["allOf"] = [{"$ref": "#/definitions/contact"}, {"required": ["email"]}]
    traits["properties"] = {"nickname": {"type": "string", "title": "Nickname"}}
    fields = schemas(document).fields()
    assert [(f.path, f.required, f.schema.get("title")) for f in fields] == [
        ("nickname", False, "Nickname"),
        ("email", True, "E-Mail"),
    ]
    assert schemas(document).identifier_label("password").text == "E-Mail"


def test_a_schema_that_contains_itself_through_its_properties_is_refused() -> None:
    person = {"type": "object", "properties": {"name": {"type": "string"}, "friend": {"$ref": "#/definitions/person"}}}
    with pytest.raises(RefCycle) as caught:
        resolved(with_traits({"me": {"$ref": "#/definitions/person"}}, {"person": person}))
    assert str(caught.value) == (
        "$ref cycle #/definitions/person -> #/definitions/person (at #/definitions/person/properties/friend): "
        "a schema may contain itself only below an array's items or a map's values "
        "(Kratos's self-service forms refuse it too)"
    )


def test_a_reference_to_the_root_from_the_traits_is_a_cycle() -> None:
    with pytest.raises(RefCycle, match=r"^\$ref cycle # -> # "):
        resolved(with_traits({"again": {"$ref": "#"}}, {}))


def test_recursion_below_an_array_is_left_as_written_and_the_fields_end() -> None:
    node = {"type": "object", "properties": {"label": {"type": "string"}, "children": {"$ref": "#/definitions/list"}}}
    definitions = {"node": node, "list": {"type": "array", "items": {"$ref": "#/definitions/node"}}}
    view = resolved(with_traits({"tree": {"$ref": "#/definitions/node"}}, definitions))
    tree = view["properties"]["traits"]["properties"]["tree"]
    assert tree["properties"]["children"] == {"type": "array", "items": {"$ref": "#/definitions/node"}}
    traits = TraitSchemas({"default": view}, "default")
    assert [f.path for f in traits.fields()] == ["tree.label", "tree.children"]


def test_endless_references_are_found_for_validation() -> None:
    """`a` -> `b` -> `a` never reaches a schema: validating against it would recurse without end."""
    document = with_traits(
        {"x": {"$ref": "#/definitions/a"}},
        {"a": {"$ref": "#/definitions/b"}, "b": {"allOf": [{"$ref": "#/definitions/a"}]}},
    )
    with pytest.raises(RefCycle, match=r"#/definitions/a -> #/definitions/b -> #/definitions/a .*never end$"):
        check_endless_refs(document)
    # Recursion through properties ends with the value: validation may follow it.
    person = {"type": "object", "properties": {"friend": {"$ref": "#/definitions/person"}}}
    check_endless_refs(with_traits({"me": {"$ref": "#/definitions/person"}}, {"person": person}))


def test_references_that_multiply_past_the_bound_are_refused() -> None:
    definitions: dict[str, Any] = {"d0": {"type": "string"}}
    for level in range(1, 20):  # each level uses the one below twice: 2**19 copies
        below = {"$ref": f"#/definitions/d{level - 1}"}
        definitions[f"d{level}"] = {"type": "object", "properties": {"a": below, "b": below}}
    with pytest.raises(ConfigError, match=f"more than {MAX_NODES} schemas"):
        resolved(with_traits({"top": {"$ref": "#/definitions/d19"}}, definitions))


def test_a_cycle_stops_the_self_service_start_naming_the_schema(tmp_path: Path) -> None:
    person = {"type": "object", "properties": {"friend": {"$ref": "#/definitions/person"}}}
    document = with_traits({"me": {"$ref": "#/definitions/person"}}, {"person": person})
    with pytest.raises(ConfigError) as caught:
        TraitSchemas.from_settings(settings_with(tmp_path, SCHEMA, document))
    assert str(caught.value).startswith("config: identity.schemas[1]: $ref cycle #/definitions/person")


def test_an_endless_reference_stops_the_identity_service_start(tmp_path: Path) -> None:
    document = with_traits({"x": {"$ref": "#/definitions/a"}}, {"a": {"$ref": "#/definitions/a"}})
    document["$schema"] = "http://json-schema.org/draft-07/schema#"
    assert build_error(settings_with(tmp_path, document)) == (
        "config: identity.schemas[0]: $ref cycle #/definitions/a -> #/definitions/a (at #/definitions/a): "
        "validating a value against it would never end"
    )


def test_the_identity_service_keeps_the_document_and_derives_through_the_references(tmp_path: Path) -> None:
    schema = SchemaRegistry.from_settings(settings_with(tmp_path, SCHEMA)).get("s0")
    assert schema.document == SCHEMA, "GET /schemas/{id} serves the schema as written"
    traits = {"email": "Ada@Example.com", "name": {"first": "Ada"}}
    assert schema.credential_identifiers(traits) == {"password": ["ada@example.com"], "code": ["ada@example.com"]}
    assert [(a.via, a.value) for a in schema.verifiable_addresses(traits)] == [("email", "ada@example.com")]
    assert [(a.via, a.value) for a in schema.recovery_addresses(traits)] == [("email", "ada@example.com")]
