"""The command line's habits, in process: usage, version, and refusing bad options by name."""

from __future__ import annotations

import pytest

from shared.version import warden_version
from warden.cli import main


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
