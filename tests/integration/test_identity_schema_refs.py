"""`$ref`s in identity schemas (`security.disallow_ref_in_identity_schemas`, checklist IN-3): a
schema whose `$ref` would load another document (a local file, a cloud metadata URL, base64) stops
`warden serve` with one line naming the schema and the reference, whatever the switch says, as
Warden loads no such document; a reference inside the schema works with the switch on, and one that
leads back to itself where no form or validation could end stops the start too."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from services.identity.service import DEFINITION as IDENTITY
from tests.factories import EMAIL_SCHEMA, running_warden, settings_for, write_config
from tests.unit.test_logging import restored_logging  # noqa: F401  (the fixture: `serve` sets up logging)
from warden.cli import EXIT_USAGE, main


def schema_with_email(email: dict[str, Any], **top: Any) -> dict[str, Any]:
    """The tests' default schema, its `traits.email` replaced by `email`."""
    schema = copy.deepcopy(EMAIL_SCHEMA)
    schema["properties"]["traits"]["properties"]["email"] = email
    return {**schema, **top}


def config_with(tmp_path: Path, schema: dict[str, Any], disallow: bool) -> Path:
    path = tmp_path / "refs.schema.json"
    path.write_text(json.dumps(schema))
    return write_config(
        tmp_path,
        f"sqlite://{tmp_path}/warden.sqlite",
        {
            "identity": {"schemas": [{"id": "default", "url": f"file://{path}"}]},
            "security": {"disallow_ref_in_identity_schemas": disallow},
        },
    )


@pytest.fixture
def serve(restored_logging: None, capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:  # noqa: F811
    def run(config: Path) -> tuple[int, str]:
        code = main(["serve", "-c", str(config)])
        return code, capsys.readouterr().err

    yield run


BASE64_EMAIL = "base64://" + base64.b64encode(json.dumps({"type": "string", "format": "email"}).encode()).decode()


@pytest.mark.parametrize(
    ("ref", "disallow"),
    [
        ("file:///etc/passwd", True),
        ("http://169.254.169.254/latest/meta-data/", True),
        ("email.schema.json", True),  # relative: a file beside the schema
        (BASE64_EMAIL, True),  # Kratos would load this one with the switch on; Warden does not
        ("file:///etc/passwd", False),  # nor does the switch's default open the way
    ],
)
def test_a_schema_whose_ref_loads_another_document_stops_the_start(
    tmp_path: Path, serve: Any, ref: str, disallow: bool
) -> None:
    code, err = serve(config_with(tmp_path, schema_with_email({"$ref": ref}), disallow))
    assert code == EXIT_USAGE
    [line] = [line for line in err.splitlines() if line.startswith("warden: ")]
    assert line.startswith(f"warden: config: identity.schemas[0]: $ref {ref!r} does not point inside the schema: ")
    assert "Warden never loads a $ref from a file, a URL or base64://" in line


def test_with_the_switch_on_a_ref_inside_the_schema_validates_traits(tmp_path: Path) -> None:
    email = copy.deepcopy(EMAIL_SCHEMA["properties"]["traits"]["properties"]["email"])
    schema = schema_with_email(
        {"$ref": "#/definitions/email"},
        definitions={"email": email},
    )
    path = tmp_path / "refs.schema.json"
    path.write_text(json.dumps(schema))
    extra = {
        "identity": {"schemas": [{"id": "default", "url": f"file://{path}"}]},
        "security": {"disallow_ref_in_identity_schemas": True},
    }
    with running_warden(settings_for(tmp_path, "memory", extra), services=[IDENTITY]) as warden:
        url = f"{warden.admin_url}/admin/identities"
        created = urllib3.request("POST", url, json={"schema_id": "default", "traits": {"email": "ada@example.com"}})
        refused = urllib3.request("POST", url, json={"schema_id": "default", "traits": {"email": "not an address"}})

    assert created.status == 201
    body = created.json()
    assert [a["value"] for a in body["verifiable_addresses"]] == ["ada@example.com"], "the extension behind the $ref"
    assert refused.status == 400


PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "friend": {"$ref": "#/definitions/person"}}}


@pytest.mark.parametrize(
    ("definitions", "expected"),
    [
        (  # a form for it would never end: Kratos refuses it when a flow is made, Warden at the start
            {"person": PERSON},
            "$ref cycle #/definitions/person -> #/definitions/person (at #/definitions/person/properties/friend): "
            "a schema may contain itself only below an array's items or a map's values",
        ),
        (  # validating against it would never end
            {"person": {"$ref": "#/definitions/other"}, "other": {"allOf": [{"$ref": "#/definitions/person"}]}},
            "$ref cycle #/definitions/person -> #/definitions/other -> #/definitions/person "
            "(at #/definitions/other/allOf/0): validating a value against it would never end",
        ),
    ],
)
def test_a_ref_cycle_stops_the_start_naming_the_schema(
    tmp_path: Path, serve: Any, definitions: dict[str, Any], expected: str
) -> None:
    schema = copy.deepcopy(EMAIL_SCHEMA)
    schema["properties"]["traits"]["properties"]["me"] = {"$ref": "#/definitions/person"}
    code, err = serve(config_with(tmp_path, {**schema, "definitions": definitions}, disallow=True))
    assert code == EXIT_USAGE
    [line] = [line for line in err.splitlines() if line.startswith("warden: ")]
    assert line.startswith(f"warden: config: identity.schemas[0]: {expected}")
