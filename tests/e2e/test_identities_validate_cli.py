"""`warden identities validate`, run as an operator runs it: the real CLI in a subprocess against a
running Warden's admin port, which serves the identity schemas the files are checked against."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import free_port
from tests.e2e.test_identities_cli import admin, identity  # noqa: F401 (admin: the same Warden fixture)
from tests.e2e.warden_process import run_cli


def test_each_problem_is_one_line_with_its_pointer_and_nothing_is_created(admin: str, tmp_path: Path) -> None:
    people = tmp_path / "people.json"
    people.write_text(
        json.dumps(
            [
                identity("ada@validate.example", credentials={"password": {"config": {"password": "x" * 12}}}),
                identity("not-an-email"),
                {"schema_id": "default", "trait": {"email": "grace@validate.example"}},
                identity("alan@validate.example", state="gone"),
                identity("edsger@validate.example", schema_id="no-such-schema"),
                {"schema_id": "default", "traits": {}},
            ]
        )
    )
    single = tmp_path / "one.json"
    single.write_text(json.dumps(identity("barbara@validate.example")))

    result = run_cli(["identities", "validate", "people.json", "one.json", "-e", admin], {}, tmp_path)

    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "people.json[0]: valid",
        "people.json[1]: not valid",
        "people.json[2]: not valid",
        "people.json[3]: not valid",
        "people.json[4]: not valid",
        "people.json[5]: not valid",
        "one.json[0]: valid",
    ]
    assert result.stderr.splitlines() == [
        'people.json[1]: #/traits/email: "not-an-email" is not valid "email"',
        'people.json[2]: #/traits: missing properties: "traits"',
        'people.json[2]: #: additionalProperties "trait" not allowed',
        'people.json[3]: #/state: value must be one of "active", "inactive"',
        'people.json[4]: #/schema_id: could not fetch schema with ID "no-such-schema": 404 '
        "The requested resource could not be found: Identity schema `no-such-schema` could not be found.",
        'people.json[5]: #/traits/email: missing properties: "email"',
        "warden: identities validate: 5 of 7 not valid",
    ]
    listed = run_cli(["identities", "list", "-e", admin, "-f", "json"], {}, tmp_path)
    emails = [i["traits"].get("email", "") for i in json.loads(listed.stdout)["identities"]]
    assert not [e for e in emails if e.endswith("@validate.example")], "validating creates nothing"


def test_valid_identities_from_standard_input_are_what_import_then_creates(admin: str, tmp_path: Path) -> None:
    people = json.dumps([identity("linus@stdin.example"), identity("ken@stdin.example", state="inactive")])

    result = run_cli(["identities", "validate"], {"KRATOS_ADMIN_URL": admin}, tmp_path, stdin=people)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "STD_IN[0]: valid\nSTD_IN[1]: valid\nAll identity files are valid.\n"
    assert result.stderr == ""
    imported = run_cli(["identities", "import", "-", "-e", admin, "-q"], {}, tmp_path, stdin=people)
    assert imported.returncode == 0 and len(imported.stdout.split()) == 2, imported.stderr


def test_a_json_report_and_quiet(admin: str, tmp_path: Path) -> None:
    people = tmp_path / "people.json"
    people.write_text(json.dumps([identity("margaret@json.example"), identity("nope")]))

    report = run_cli(["identities", "validate", str(people), "-e", admin, "-f", "json"], {}, tmp_path)

    assert report.returncode == 1
    assert json.loads(report.stdout) == [
        {"source": f"{people}[0]", "valid": True, "errors": []},
        {
            "source": f"{people}[1]",
            "valid": False,
            "errors": [{"instance_ptr": "#/traits/email", "message": '"nope" is not valid "email"'}],
        },
    ]
    quiet = run_cli(["identities", "validate", str(people), "-e", admin, "-q"], {}, tmp_path)
    assert quiet.returncode == 1 and quiet.stdout == ""
    assert quiet.stderr.splitlines()[0] == f'{people}[1]: #/traits/email: "nope" is not valid "email"'


def test_an_unreachable_server_and_an_unreadable_file_are_one_line(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    (tmp_path / "one.json").write_text(json.dumps(identity("dennis@closed.example")))
    result = run_cli(["identities", "validate", "one.json", "-e", closed], {}, tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(f"warden: identities validate: cannot reach the admin API at {closed} (")
    assert result.stderr.count("\n") == 1
    missing = run_cli(["identities", "validate", "missing.json", "-e", closed], {}, tmp_path)
    assert missing.returncode == 1
    assert missing.stderr == (
        "warden: identities validate: missing.json: could not open identity file: No such file or directory\n"
    )
