"""One traits-validation problem (the identity service's `details["errors"]` entry) as the UI message
Kratos shows for it, like `translateValidationError` in Kratos's `ui/container/container.go`.

An entry is `{"instance_ptr", "schema_ptr", "keyword", "message", "context"}` (see
`services/identity/schemas/problems.py`). Values come from `context`, else from the message (which
is ory/jsonschema's wording, the text Kratos itself parses), else -1 as Kratos falls back to.
Keywords Kratos does not translate (`format`, `enum`, `additionalProperties`, …) become 4000001
carrying the message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from shared.text import validation as v
from shared.text.message import Message

_NUMBER = r"(?P<{}>-?[0-9.eE+]+)"
# keyword: (message pattern with one named group per argument, the message builder)
_NUMERIC: dict[str, tuple[str, Callable[..., Message]]] = {
    "minLength": ("length must be >= {min_length}, but got {actual_length}", v.too_short),
    "maxLength": ("length must be <= {max_length}, but got {actual_length}", v.too_long),
    "minimum": ("must be >= {limit} but found {actual}", v.below_minimum),
    "exclusiveMinimum": ("must be > {limit} but found {actual}", v.not_above_minimum),
    "maximum": ("must be <= {limit} but found {actual}", v.above_maximum),
    "exclusiveMaximum": ("must be < {limit} but found {actual}", v.not_below_maximum),
    "multipleOf": ("{actual} not multipleOf {multiple_of}", lambda actual, base: v.not_multiple_of(base, actual)),
    "maxItems": ("maximum {limit} items allowed, but found {actual} items", v.too_many_items),
    "minItems": ("minimum {limit} items allowed, but found {actual} items", v.too_few_items),
}


def from_schema_error(problem: Mapping[str, Any]) -> Message:
    keyword = problem.get("keyword") or str(problem.get("schema_ptr", "")).rsplit("/", 1)[-1]
    message = str(problem.get("message", ""))
    context = problem.get("context") or {}
    if keyword == "required":
        name = context.get("property") or str(problem.get("instance_ptr", "")).rsplit("/", 1)[-1]
        return v.property_missing(name)
    if keyword in _NUMERIC:
        template, build = _NUMERIC[keyword]
        return build(*_arguments(template, message, context))
    if keyword == "pattern":
        return v.pattern_mismatch(context.get("pattern", _pattern_from(message)))
    if keyword == "uniqueItems":
        indexes = context.get("indexes") or _arguments("items at index {a} and {b} are equal", message, {})
        return v.items_not_unique(*indexes)
    if keyword == "type":
        return _wrong_type(message, context)
    if keyword == "const":
        if message == "const failed":
            return v.const_failed()
        return v.const_mismatch(message.removeprefix("value must be "))
    return v.validation_failed(message)


def _arguments(template: str, message: str, context: Mapping[str, Any]) -> list[Any]:
    """The template's placeholders, in order: from the context, else parsed from the message, else -1."""
    names = re.findall(r"{(\w+)}", template)
    pattern = re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
    found = re.fullmatch(pattern.format(**{n: _NUMBER.format(n) for n in names}), message)
    parsed = {n: _to_number(found.group(n)) for n in names} if found else {}
    return [context.get(n, parsed.get(n, -1)) for n in names]


def _to_number(raw: str) -> int | float:
    try:
        return int(raw)
    except ValueError:
        try:
            return float(raw)
        except ValueError:
            return -1


def _pattern_from(message: str) -> str:
    quoted = message.removeprefix("does not match pattern ")
    try:
        pattern = json.loads(quoted)
    except ValueError:
        return ""
    return pattern if isinstance(pattern, str) else ""


def _wrong_type(message: str, context: Mapping[str, Any]) -> Message:
    allowed, _, actual = message.removeprefix("expected ").partition(", but got ")
    return v.wrong_type(context.get("expected_types") or allowed.split(" or "), context.get("actual_type", actual))
