"""ory/jsonschema's message for each failed keyword, word for word (Kratos returns them as they
are), and a `context` with the values a UI needs to word its own message (Kratos's text ids
4000002 `required`, 4000003 `minLength`, …)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from jsonschema.exceptions import ValidationError

from .patterns import compiled

Wording = tuple[str, dict[str, Any]]
Describe = Callable[[ValidationError], Wording]


def describe(keyword: str, error: ValidationError) -> Wording:
    """(message, context) for one error; jsonschema's own message for a keyword not listed here."""
    wording = _DESCRIBE.get(keyword)
    return wording(error) if wording else (error.message, {})


def quote(value: Any) -> str:
    """Go's %q / %#v, near enough: JSON text."""
    return json.dumps(value, ensure_ascii=False)


def json_type(value: Any) -> str:
    """ory/jsonschema's type names: every number is a "number", integers included."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    names: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _type(e: ValidationError) -> Wording:
    expected = e.validator_value if isinstance(e.validator_value, list) else [e.validator_value]
    actual = json_type(e.instance)
    return f"expected {' or '.join(expected)}, but got {actual}", {"expected_types": expected, "actual_type": actual}


def _format(e: ValidationError) -> Wording:
    message = f"{quote(e.instance)} is not valid {quote(e.validator_value)}"
    return message, {"format": e.validator_value, "value": e.instance}


def _length(bound: str, op: str) -> Describe:
    def wording(e: ValidationError) -> Wording:
        length = len(e.instance)
        message = f"length must be {op} {e.validator_value}, but got {length}"
        return message, {bound: e.validator_value, "actual_length": length}

    return wording


def _limit(op: str) -> Describe:
    def wording(e: ValidationError) -> Wording:
        message = f"must be {op} {_number(e.validator_value)} but found {_number(e.instance)}"
        return message, {"limit": e.validator_value, "actual": e.instance}

    return wording


def _count(word: str, noun: str) -> Describe:
    def wording(e: ValidationError) -> Wording:
        found = len(e.instance)
        message = f"{word} {e.validator_value} {noun} allowed, but found {found} {noun}"
        return message, {"limit": e.validator_value, "actual": found}

    return wording


def _multiple_of(e: ValidationError) -> Wording:
    return f"{_number(e.instance)} not multipleOf {_number(e.validator_value)}", {"multiple_of": e.validator_value}


def _enum(e: ValidationError) -> Wording:
    allowed = e.validator_value
    if any(isinstance(v, (dict, list)) for v in allowed):
        return "enum failed", {"allowed_values": allowed}
    if len(allowed) == 1:
        return f"value must be {quote(allowed[0])}", {"allowed_values": allowed}
    return f"value must be one of {', '.join(quote(v) for v in allowed)}", {"allowed_values": allowed}


def _const(e: ValidationError) -> Wording:
    if isinstance(e.validator_value, (dict, list)):
        return "const failed", {"expected": e.validator_value}
    return f"value must be {quote(e.validator_value)}", {"expected": e.validator_value}


def _additional(e: ValidationError) -> Wording:
    if e.validator_value is not False or not isinstance(e.instance, dict):
        return e.message, {}
    known, patterns = e.schema.get("properties", {}), e.schema.get("patternProperties", {})
    extra = [k for k in e.instance if k not in known and not any(compiled(p).search(k) for p in patterns)]
    return f"additionalProperties {', '.join(quote(k) for k in extra)} not allowed", {"properties": extra}


def _unique(e: ValidationError) -> Wording:
    seen: dict[str, int] = {}
    for index, item in enumerate(e.instance):
        key = json.dumps([json_type(item), item], sort_keys=True)
        if key in seen:
            return f"items at index {seen[key]} and {index} are equal", {"indexes": [seen[key], index]}
        seen[key] = index
    return e.message, {}


def _fixed(message: str) -> Describe:
    return lambda _e: (message, {})


_DESCRIBE: dict[str, Describe] = {
    "type": _type,
    "format": _format,
    "minLength": _length("min_length", ">="),
    "maxLength": _length("max_length", "<="),
    "pattern": lambda e: (f"does not match pattern {quote(e.validator_value)}", {"pattern": e.validator_value}),
    "minimum": _limit(">="),
    "maximum": _limit("<="),
    "exclusiveMinimum": _limit(">"),
    "exclusiveMaximum": _limit("<"),
    "multipleOf": _multiple_of,
    "minItems": _count("minimum", "items"),
    "maxItems": _count("maximum", "items"),
    "minProperties": _count("minimum", "properties"),
    "maxProperties": _count("maximum", "properties"),
    "enum": _enum,
    "const": _const,
    "additionalProperties": _additional,
    "uniqueItems": _unique,
    "anyOf": _fixed("anyOf failed"),
    "oneOf": lambda e: ("oneOf failed" if e.context else "valid against more than one schema in oneOf", {}),
    "not": _fixed("not failed"),
    "contains": _fixed("contains failed"),
    "false": _fixed("always fail"),
}
