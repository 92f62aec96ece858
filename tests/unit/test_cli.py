"""The command line's habits, in process: usage, version, and refusing bad options by name."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from shared.config import Settings, load_settings
from shared.version import warden_version
from warden.cleanup import CLEANUP_BATCH, CleanupOptions, cleanup_options
from warden.cli import _where, main

QUICKSTART = Path(__file__).parents[1] / "fixtures" / "quickstart"


def test_no_command_prints_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: warden") and "serve" in out and "migrate" in out


def test_version_flag_and_command_agree(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    flag = capsys.readouterr().out
    assert main(["version"]) == 0
    assert flag == capsys.readouterr().out == f"Version: {warden_version()}\n"


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--no-such-option"], "--no-such-option"),
        (["serve", "--colour"], "--colour"),
        (["cleanup", "--batch-size", "0"], "--batch-size: must be 1 or more, not 0"),
        (["cleanup", "--batch-size", "-5"], "--batch-size: must be 1 or more, not -5"),
        (["cleanup", "--batch-size", "many"], "--batch-size: not a whole number"),
        (["cleanup", "-b", "0"], "--batch-size: must be 1 or more, not 0"),
        (["cleanup", "--keep-last", "a day"], "--keep-last: must be a duration"),
        (["cleanup", "--keep-last=-1h"], "--keep-last: must be a duration"),
        (["cleanup", "--database.cleanup.sleep.tables", "1.5s"], "--database.cleanup.sleep.tables: must be a duration"),
        (["cleanup", "sqlite://a", "sqlite://b"], "cleanup: expected `sql` before the database URL, not 'sqlite://a'"),
        (["migrate", "postgres://x", "sql"], "migrate: expected `sql` before the database URL, not 'postgres://x'"),
    ],
)
def test_a_bad_option_is_named_in_one_line_with_exit_code_2(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert named in err and len(err.strip().splitlines()) == 1


def _console(settings) -> str:  # type: ignore[no-untyped-def]
    process = SimpleNamespace(
        services=[SimpleNamespace(name="selfservice")],
        settings=settings,
        url=lambda port: {"public": "http://127.0.0.1:4500", "admin": "http://127.0.0.1:4501"}[port],
    )
    return _where(process)


def test_the_console_names_the_built_in_sign_in_page_when_browsers_go_there() -> None:
    console = _console(load_settings([], {"SERVE_PUBLIC_PORT": "4500"}, dev=True))
    assert "built-in UI (sign in)" in console and "http://127.0.0.1:4500/ui/login" in console


def test_the_console_names_the_configured_sign_in_ui_not_the_built_in_one() -> None:
    """A Kratos quickstart sends browsers to its own UI on :4455: /ui/login would only redirect there."""
    settings = load_settings([QUICKSTART / "email-password" / "kratos.yml"], {"SERVE_PUBLIC_PORT": "4500"}, dev=True)
    console = _console(settings)
    assert "built-in UI" not in console and "/ui/login" not in console
    assert "http://127.0.0.1:4455/login" in console


def test_the_console_names_the_config_revision_when_one_is_set() -> None:
    assert "revision" not in _console(load_settings([], {}, dev=True))
    console = _console(load_settings([], {"REVISION": "2024-06-01.3"}, dev=True))
    assert console.splitlines()[-1].split() == ["config", "revision", "2024-06-01.3"]


def test_cleanup_options_come_from_the_flags_then_the_config_then_wardens_defaults() -> None:
    cleanup = {"batch_size": 250, "older_than": "48h", "sleep": {"tables": "250ms"}}
    configured = Settings(dsn="memory", raw={"database": {"cleanup": cleanup}})
    assert cleanup_options(configured) == CleanupOptions(
        batch=250, keep_last=timedelta(hours=48), pause=timedelta(milliseconds=250)
    )
    flags = cleanup_options(configured, batch_size=40, keep_last=timedelta(0), sleep_tables=timedelta(0))
    assert flags == CleanupOptions(batch=40, keep_last=timedelta(0), pause=timedelta(0))
    # Unset, not the schema's defaults (a batch of 100, a minute between tables): Warden's.
    assert cleanup_options(Settings(dsn="memory")) == CleanupOptions(CLEANUP_BATCH, timedelta(0), timedelta(0))


def test_cleanup_options_read_the_environment_as_kratos_does() -> None:
    environ = {"DATABASE_CLEANUP_OLDER_THAN": "2h", "DATABASE_CLEANUP_SLEEP_TABLES": "1s"}
    options = cleanup_options(load_settings([], environ))
    assert (options.keep_last, options.pause) == (timedelta(hours=2), timedelta(seconds=1))
