"""Schema patterns on RE2, as Kratos (Go's regexp) evaluates them: matching takes time linear in the
input, whatever the pattern. Python's `re` backtracks: one registration with a 29-character value
against `^(a+)+$` held the event loop for 20 seconds in the review (finding 4).

RE2 speaks Go's syntax, so a pattern Kratos accepts works here; one it refuses (look-arounds,
back-references) is refused when the schema is loaded. Like Go, `\\d` and `\\w` are ASCII.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import re2
from jsonschema import ValidationError

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a bad pattern is reported once, by `pattern_problem`, not on stderr


@functools.lru_cache(maxsize=512)
def compiled(pattern: str) -> Any:
    return re2.compile(pattern, options=_OPTIONS)


def pattern_problem(pattern: str) -> str | None:
    """Why RE2 cannot use `pattern`, or None."""
    try:
        compiled(pattern)
    except re2.error as exc:
        detail = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        return f"pattern {pattern!r} is not RE2 syntax (as Kratos requires): {detail}"
    return None


def is_regex(value: str) -> bool:
    """The `regex` format: a pattern Kratos could use."""
    return pattern_problem(value) is None


def pattern(validator: Any, patrn: str, instance: Any, _schema: Any) -> Iterator[ValidationError]:
    """jsonschema's `pattern` keyword, same message, on RE2."""
    if validator.is_type(instance, "string") and not compiled(patrn).search(instance):
        yield ValidationError(f"{instance!r} does not match {patrn!r}")


def pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, _schema: Any
) -> Iterator[ValidationError]:
    """jsonschema's `patternProperties` keyword, on RE2."""
    if not validator.is_type(instance, "object"):
        return
    for patrn, subschema in patterns.items():
        for key, value in instance.items():
            if compiled(patrn).search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=patrn)


KEYWORDS = {"pattern": pattern, "patternProperties": pattern_properties}


def schema_patterns(node: Any) -> Iterator[str]:
    """Every `pattern` and `patternProperties` key in a schema document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            elif key == "patternProperties" and isinstance(value, dict):
                yield from value
            if key not in ("const", "enum", "default", "examples"):
                yield from schema_patterns(value)
    elif isinstance(node, list):
        for item in node:
            yield from schema_patterns(item)
