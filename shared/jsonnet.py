"""Jsonnet programs from config (courier request bodies, web hook bodies, social sign-in claim
mappers), evaluated the way Kratos evaluates them: syntax checked when the program is loaded, so a
broken local template fails start-up; imports refused, because the program runs on every message or
sign-in and must read nothing but what it is given."""

from __future__ import annotations

import json
from typing import Any

import _jsonnet


class JsonnetError(Exception):
    """The program failed at run time (`error '…'`, a missing field); the text is Jsonnet's."""


def _no_imports(_directory: str, path: str) -> tuple[str, bytes]:
    raise RuntimeError(f"imports are not allowed in this Jsonnet program ({path})")


class JsonnetProgram:
    def __init__(self, source: str, name: str) -> None:
        self._source = source
        self._name = name
        try:  # a syntax error fails now; a runtime error needs real inputs to show itself
            _jsonnet.evaluate_snippet(name, source, import_callback=_no_imports)
        except RuntimeError as exc:
            if str(exc).startswith("STATIC ERROR"):
                raise

    def text(self, *, tla: dict[str, Any] | None = None, ext: dict[str, Any] | None = None) -> str:
        """The program's output as JSON text, given top-level arguments and/or external variables."""
        try:
            return str(
                _jsonnet.evaluate_snippet(
                    self._name,
                    self._source,
                    tla_codes={k: json.dumps(v) for k, v in (tla or {}).items()},
                    ext_codes={k: json.dumps(v) for k, v in (ext or {}).items()},
                    import_callback=_no_imports,
                )
            )
        except RuntimeError as exc:
            raise JsonnetError(str(exc).strip()) from None

    def value(self, *, tla: dict[str, Any] | None = None, ext: dict[str, Any] | None = None) -> Any:
        return json.loads(self.text(tla=tla, ext=ext))


class JsonnetBody(JsonnetProgram):
    """A request body template, given the call's context as `ctx` (Kratos's courier HTTP channels
    and web hooks)."""

    def build(self, ctx: dict[str, Any]) -> str:
        return self.text(tla={"ctx": ctx})
