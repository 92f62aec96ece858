"""Jsonnet programs from config (courier request bodies, web hook bodies, social sign-in claim
mappers), evaluated the way Kratos evaluates them: syntax checked when the program is loaded, so a
broken local template fails start-up; imports refused, because the program runs on every message or
sign-in and must read nothing but what it is given.

A program fed what a user sent (a web hook's `ctx` carries the submitted `transient_payload` and
traits) is evaluated in shared/jsonnet_sandbox.py's worker processes instead, bounded in memory and
time.

The implementation is go-jsonnet (`gojsonnet` on PyPI), Kratos's own: the same language and
standard library as Kratos's, and about 0.1 ms for a small program where the C++ `jsonnet` module
took 30 ms (it parsed its standard library again for every evaluation)."""

from __future__ import annotations

import json
from typing import Any

import _gojsonnet


class JsonnetError(Exception):
    """The program failed at run time (`error '…'`, a missing field); the text is Jsonnet's."""


def _no_imports(_directory: str, path: str) -> tuple[str, bytes]:
    raise RuntimeError(f"imports are not allowed in this Jsonnet program ({path})")


class JsonnetProgram:
    def __init__(self, source: str, name: str) -> None:
        self._source = source
        self._name = name
        try:  # a syntax error fails now; a runtime error needs real inputs to show itself
            _gojsonnet.evaluate_snippet(name, source, import_callback=_no_imports)
        except RuntimeError as exc:
            if not str(exc).startswith("RUNTIME ERROR"):  # go-jsonnet names a static error by its place
                raise

    @property
    def name(self) -> str:
        return self._name

    @property
    def source(self) -> str:
        return self._source

    @staticmethod
    def arguments(tla: dict[str, Any] | None, ext: dict[str, Any] | None) -> dict[str, dict[str, str]]:
        """Top-level arguments and external variables as Jsonnet code: JSON literals, so that what a
        user sent is data and never code."""
        return {
            "tla_codes": {k: json.dumps(v) for k, v in (tla or {}).items()},
            "ext_codes": {k: json.dumps(v) for k, v in (ext or {}).items()},
        }

    def text(self, *, tla: dict[str, Any] | None = None, ext: dict[str, Any] | None = None) -> str:
        """The program's output as JSON text, given top-level arguments and/or external variables."""
        try:
            return str(
                _gojsonnet.evaluate_snippet(
                    self._name, self._source, **self.arguments(tla, ext), import_callback=_no_imports
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
