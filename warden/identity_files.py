"""Identity files for `warden identities import` and `validate`: JSON files holding one identity or
a list of them, or standard input, read as Kratos's commands read them (`cmd/identities/helpers.go`).

Each identity is named as Kratos names it in its messages: `people.json[1]`, `STD_IN[0]`; a file
holding a single identity is its `[0]`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

STDIN = "-"


class InputError(Exception):
    """A file that cannot be read or is not identities in JSON; one line."""


def read_identities(names: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """(`file[index]`, identity body) for every identity in every file; no file, or `-`: standard input."""
    return [item for name in (names or [STDIN]) for item in _read(name)]


def _read(name: str) -> list[tuple[str, dict[str, Any]]]:
    label = "STD_IN" if name == STDIN else name
    try:
        data = json.loads(sys.stdin.read() if name == STDIN else Path(name).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{label}: could not open identity file: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{label}: not JSON ({exc.msg}, line {exc.lineno} column {exc.colno})") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{label}: not JSON (not UTF-8 text)") from exc
    bodies = data if isinstance(data, list) else [data]
    if not all(isinstance(body, dict) for body in bodies):
        raise InputError(f"{label}: expected an identity (a JSON object) or a list of them")
    return [(f"{label}[{index}]", body) for index, body in enumerate(bodies)]
