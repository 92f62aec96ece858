"""`warden identities import|list|get|delete` and `warden routes`, run as an operator runs them: the
real CLI in a subprocess against a running Warden's admin port."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.warden_process import WardenProcess, run_cli

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Warden started as `make run` starts it; its admin URL."""
    warden = WardenProcess(["serve", "--dev"], env={}, cwd=tmp_path_factory.mktemp("identities-cli"))
    try:
        warden.wait_ready(timeout=60.0)
        yield warden.url("admin")
    finally:
        warden.stop()


def identity(email: str, **extra: object) -> dict[str, object]:
    return {"schema_id": "default", "traits": {"email": email}, **extra}


def test_import_creates_each_identity_reports_refusals_and_shows_progress(admin: str, tmp_path: Path) -> None:
    people = tmp_path / "people.json"
    people.write_text(
        json.dumps(
            [
                identity("ada@import.example", credentials={"password": {"config": {"password": PASSWORD}}}),
                identity("not-an-email"),
                identity("grace@import.example"),
            ]
        )
    )
    single = tmp_path / "one.json"
    single.write_text(json.dumps(identity("alan@import.example")))
    # TTY_COMPATIBLE: rich draws the bar as on a terminal, though stderr is a pipe here.
    result = run_cli(["identities", "import", str(people), str(single), "-e", admin], {"TTY_COMPATIBLE": "1"}, tmp_path)
    assert result.returncode == 1, "one identity was refused"
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "VERIFIED", "ADDRESSES", "RECOVERY", "ADDRESSES", "SCHEMA", "ID", "SCHEMA", "URL"]
    assert [line.split()[1] for line in lines[1:]] == [
        "ada@import.example",
        "grace@import.example",
        "alan@import.example",
    ]
    assert f"warden: identities import: {people}[1]: 400 " in result.stderr and "not-an-email" in result.stderr
    assert "Importing identities" in result.stderr and "0/4" in result.stderr and "4/4" in result.stderr, "a bar"

    again = run_cli(["identities", "import", str(single), "-e", admin, "-q"], {}, tmp_path)
    assert again.returncode == 1 and again.stdout == ""
    assert f"{single}[0]: 409 " in again.stderr, "an identity that exists is refused, by file and index"


def test_list_get_and_delete(admin: str, tmp_path: Path) -> None:
    people = tmp_path / "people.json"
    people.write_text(json.dumps([identity(f"user{i}@list.example") for i in range(3)]))
    created = run_cli(["identities", "import", str(people), "-e", admin, "--quiet"], {}, tmp_path)
    assert created.returncode == 0, created.stderr
    ids = created.stdout.split()
    assert len(ids) == 3

    everyone = run_cli(["identities", "list", "-q"], {"KRATOS_ADMIN_URL": admin}, tmp_path)
    assert everyone.returncode == 0 and set(ids) <= set(everyone.stdout.split())
    first = run_cli(["identities", "list", "-e", admin, "--page-size", "1", "-f", "json"], {}, tmp_path)
    page = json.loads(first.stdout)
    assert len(page["identities"]) == 1
    token = page["next_page_token"]
    second = run_cli(["identities", "list", "-e", admin, "--page-size", "1", "--page-token", token, "-q"], {}, tmp_path)
    assert second.stdout.split() != [page["identities"][0]["id"]], "the next page is another identity"

    shown = run_cli(["identities", "get", ids[0], "-e", admin, "-f", "json-pretty"], {}, tmp_path)
    assert shown.returncode == 0 and json.loads(shown.stdout)["traits"]["email"] == "user0@list.example"

    deleted = run_cli(["identities", "delete", ids[0], ids[1], "-e", admin], {}, tmp_path)
    assert deleted.returncode == 0 and deleted.stdout.split() == ids[:2]
    gone = run_cli(["identities", "get", ids[0], ids[2], "-e", admin, "-q"], {}, tmp_path)
    assert gone.returncode == 1
    assert gone.stdout.split() == [ids[2]], "the identity still there is shown"
    assert gone.stderr == f"warden: identities get: {ids[0]}: 404 Unable to locate the resource\n"


def test_kratos_admin_url_wins_over_the_older_variable(admin: str, tmp_path: Path) -> None:
    """Kratos reads KRATOS_ADMIN_URL; KRATOS_ADMIN_ENDPOINT, its older name, is the fallback."""
    closed = f"http://127.0.0.1:{free_port()}"
    both = run_cli(["identities", "list", "-q"], {"KRATOS_ADMIN_URL": admin, "KRATOS_ADMIN_ENDPOINT": closed}, tmp_path)
    assert both.returncode == 0, both.stderr
    older = run_cli(["identities", "list", "-q"], {"KRATOS_ADMIN_URL": "", "KRATOS_ADMIN_ENDPOINT": admin}, tmp_path)
    assert older.returncode == 0, older.stderr
    flag = run_cli(["identities", "list", "-q", "-e", admin], {"KRATOS_ADMIN_URL": closed}, tmp_path)
    assert flag.returncode == 0, "the flag wins over both"


def test_one_identity_prints_a_field_a_line_and_several_a_table(admin: str, tmp_path: Path) -> None:
    """As Kratos prints them (cmdx PrintRow and PrintTable), every address in its column."""
    people = tmp_path / "people.json"
    people.write_text(json.dumps([identity("one@rows.example"), identity("two@rows.example")]))
    ids = run_cli(["identities", "import", str(people), "-e", admin, "-q"], {}, tmp_path).stdout.split()

    one = run_cli(["identities", "get", ids[0], "-e", admin], {}, tmp_path)
    assert one.returncode == 0
    assert [line.split()[:-1] for line in one.stdout.splitlines()] == [
        ["ID"],
        ["VERIFIED", "ADDRESSES"],
        ["RECOVERY", "ADDRESSES"],
        ["SCHEMA", "ID"],
        ["SCHEMA", "URL"],
    ]
    assert one.stdout.splitlines()[0].split()[1] == ids[0]
    assert one.stdout.splitlines()[1].split()[2] == "one@rows.example"

    several = run_cli(["identities", "get", *ids, "-e", admin], {}, tmp_path).stdout.splitlines()
    assert several[0].split()[:3] == ["ID", "VERIFIED", "ADDRESSES"]
    assert [line.split()[0] for line in several[1:]] == ids

    run_cli(["identities", "delete", ids[0], "-e", admin], {}, tmp_path)
    found = run_cli(["identities", "get", ids[0], ids[1], "-e", admin, "-f", "json"], {}, tmp_path)
    assert found.returncode == 1
    assert json.loads(found.stdout)["id"] == ids[1], "one found is printed as one, as Kratos does"

    password = run_cli(["identities", "get", ids[1], "-e", admin, "-i", "password"], {}, tmp_path)
    assert password.returncode == 2, "Kratos's command includes only oidc credentials"
    assert password.stderr.startswith("warden: error: argument -i/--include-credentials: invalid choice: 'password'")


def test_list_pages_as_kratos_does(tmp_path: Path) -> None:
    """100 a page by default, the next page's token with the page, and the older `<page> <per-page>`."""
    warden = WardenProcess(["serve", "--dev"], env={}, cwd=tmp_path)
    try:
        warden.wait_ready(timeout=60.0)
        admin = warden.url("admin")
        creates = [{"create": identity(f"user{i}@pages.example")} for i in range(101)]
        batch = urllib.request.Request(
            admin + "/admin/identities",
            data=json.dumps({"identities": creates}).encode(),
            method="PATCH",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(batch, timeout=60) as answer:
            assert answer.status == 200

        first = run_cli(["identities", "ls", "-e", admin, "-q"], {}, tmp_path)
        assert first.returncode == 0 and len(first.stdout.split()) == 100
        page = json.loads(run_cli(["identities", "list", "-e", admin, "-f", "json"], {}, tmp_path).stdout)
        assert len(page["identities"]) == 100 and page["next_page_token"]
        rest = run_cli(["identities", "list", "-e", admin, "--page-token", page["next_page_token"], "-q"], {}, tmp_path)
        assert len(rest.stdout.split()) == 1
        shown = run_cli(["identities", "list", "-e", admin, "--page-size", "2"], {}, tmp_path).stdout.splitlines()
        assert len(shown) == 5 and shown[3] == "" and shown[4].split()[:3] == ["NEXT", "PAGE", "TOKEN"]
        last = run_cli(["identities", "list", "-e", admin, "--page-token", page["next_page_token"]], {}, tmp_path)
        assert last.stdout.splitlines()[-1] == "NEXT PAGE TOKEN", "no token on the last page"

        older = run_cli(["identities", "list", "1", "2", "-e", admin, "-q"], {}, tmp_path)
        assert older.returncode == 0 and len(older.stdout.split()) == 2
        half = run_cli(["identities", "list", "1", "-e", admin], {}, tmp_path)
        assert half.returncode == 1 and half.stderr.startswith("warden: identities list: expected zero or two")
        strong = run_cli(["identities", "list", "--consistency", "strong", "-e", admin, "-q"], {}, tmp_path)
        assert strong.returncode == 0 and len(strong.stdout.split()) == 100
    finally:
        warden.stop()


def test_an_unreachable_endpoint_and_an_unknown_option_are_one_line(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    result = run_cli(["identities", "list", "-e", closed], {}, tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"warden: identities list: cannot reach the admin API at {closed} (")
    assert result.stderr.count("\n") == 1
    unknown = run_cli(["identities", "list", "--no-such-option"], {}, tmp_path)
    assert unknown.returncode == 2 and unknown.stderr == "warden: error: unrecognized arguments: --no-such-option\n"
    (tmp_path / "broken.json").write_text("{not json")
    broken = run_cli(["identities", "import", "broken.json", "-e", closed], {}, tmp_path)
    assert broken.returncode == 1
    assert broken.stderr.startswith("warden: identities import: broken.json: not JSON (") and "line 1" in broken.stderr


def test_routes_prints_aligned_columns(tmp_path: Path) -> None:
    result = run_cli(["routes"], {}, tmp_path)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    header = lines[0]
    assert header.split() == ["PORT", "METHODS", "PATH", "SERVICE"]
    starts = [header.index(name) for name in ("METHODS", "PATH", "SERVICE")]
    for line in lines[1:]:
        for start in starts:
            assert line[start - 2 : start] == "  " and line[start] != " ", line
    assert any(line.split()[1] == "DELETE,GET,PATCH,PUT" for line in lines), "the widest methods cell fits"


def test_a_guarded_admin_api_takes_the_key_from_the_environment(tmp_path: Path) -> None:
    """With `serve.admin.api_keys`, the commands send `WARDEN_ADMIN_API_KEY` as a bearer token."""
    key = "cli-key-of-this-test-0123456789abcdef"
    config = tmp_path / "kratos.yml"
    config.write_text(
        json.dumps({"serve": {"admin": {"api_keys": [{"name": "operator", "key": key, "scope": "read"}]}}})
    )
    warden = WardenProcess(["serve", "-c", str(config), "--dev"], env={}, cwd=tmp_path)
    try:
        warden.wait_ready(timeout=60.0)
        admin = warden.url("admin")
        refused = run_cli(["identities", "list", "-e", admin], {}, tmp_path)
        assert refused.returncode == 1
        assert refused.stderr.startswith("warden: identities list: 401 The request could not be authorized")
        listed = run_cli(["identities", "list", "-e", admin, "-q"], {"WARDEN_ADMIN_API_KEY": key}, tmp_path)
        assert listed.returncode == 0 and listed.stdout == ""
        # The schema is fetched through the admin port's 307 to the public one, the key sent along.
        (tmp_path / "one.json").write_text(json.dumps(identity("key@validate.example")))
        checked = run_cli(["identities", "validate", "one.json", "-e", admin], {"WARDEN_ADMIN_API_KEY": key}, tmp_path)
        assert checked.returncode == 0 and checked.stdout.endswith("All identity files are valid.\n"), checked.stderr
    finally:
        warden.stop()


def test_backup_codes_seal_runs_against_the_configured_database(tmp_path: Path) -> None:
    """`warden backup-codes seal` (the sealing itself: tests/integration/test_mfa_native.py)."""
    config = tmp_path / "kratos.yml"
    config.write_text(
        json.dumps(
            {"dsn": f"sqlite://{tmp_path}/warden.sqlite", "secrets": {"default": ["a-secret-of-32-characters-or-so"]}}
        )
    )
    assert run_cli(["migrate", "-c", str(config)], {}, tmp_path).returncode == 0
    sealed = run_cli(["backup-codes", "seal", "-c", str(config), "--batch-size", "10"], {}, tmp_path)
    assert sealed.returncode == 0, sealed.stderr
    assert sealed.stdout == "warden: sealed 0 sets of backup codes\n"
    unknown = run_cli(["backup-codes", "seal", "--batch-size", "0"], {}, tmp_path)
    assert unknown.returncode == 2
