"""JSON-schema validation texts (4000001-4000004, 4000017-4000026, 4000029-4000030), as
`text/message_validation.go` words them. Numbers are float64 in Kratos, hence `go_number`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.text.message import Message, error, go_number, go_quote


def validation_failed(reason: str) -> Message:
    return error(4000001, reason, {"reason": reason})


def code_submitted_too_often() -> Message:
    """Kratos's `ErrCodeSubmittedTooOften`: a 400 whose reason the flow shows as 4000001."""
    return validation_failed("The request was submitted too often. Please request another code.")


def property_missing(name: str) -> Message:
    return error(4000002, f"Property {name} is missing.", {"property": name})


def too_short(min_length: int, actual_length: int) -> Message:
    context = {"min_length": min_length, "actual_length": actual_length}
    return error(4000003, f"length must be >= {min_length}, but got {actual_length}", context)


def pattern_mismatch(pattern: str) -> Message:
    return error(4000004, f"does not match pattern {go_quote(pattern)}", {"pattern": pattern})


def too_long(max_length: int, actual_length: int) -> Message:
    context = {"max_length": max_length, "actual_length": actual_length}
    return error(4000017, f"length must be <= {max_length}, but got {actual_length}", context)


def below_minimum(minimum: float, actual: float) -> Message:
    return _bound(4000018, ">=", "minimum", minimum, actual)


def not_above_minimum(minimum: float, actual: float) -> Message:
    """`exclusiveMinimum` failed."""
    return _bound(4000019, ">", "minimum", minimum, actual)


def above_maximum(maximum: float, actual: float) -> Message:
    return _bound(4000020, "<=", "maximum", maximum, actual)


def not_below_maximum(maximum: float, actual: float) -> Message:
    """`exclusiveMaximum` failed."""
    return _bound(4000021, "<", "maximum", maximum, actual)


def not_multiple_of(base: float, actual: float) -> Message:
    base, actual = go_number(base), go_number(actual)
    return error(4000022, f"{actual} not multipleOf {base}", {"base": base, "actual": actual})


def too_many_items(max_items: int, actual_items: int) -> Message:
    text = f"maximum {max_items} items allowed, but found {actual_items} items"
    return error(4000023, text, {"max_items": max_items, "actual_items": actual_items})


def too_few_items(min_items: int, actual_items: int) -> Message:
    text = f"minimum {min_items} items allowed, but found {actual_items} items"
    return error(4000024, text, {"min_items": min_items, "actual_items": actual_items})


def items_not_unique(index_a: int, index_b: int) -> Message:
    text = f"items at index {index_a} and {index_b} are equal"
    return error(4000025, text, {"index_a": index_a, "index_b": index_b})


def wrong_type(allowed_types: Sequence[str], actual_type: str) -> Message:
    text = f"expected {' or '.join(allowed_types)}, but got {actual_type}"
    return error(4000026, text, {"allowed_types": list(allowed_types), "actual_type": actual_type})


def const_mismatch(expected: Any) -> Message:
    return error(4000029, f"must be equal to constant {expected}", {"expected": expected})


def const_failed() -> Message:
    return error(4000030, "const failed")


def _bound(id: int, op: str, key: str, limit: float, actual: float) -> Message:
    limit, actual = go_number(limit), go_number(actual)
    return error(id, f"must be {op} {limit} but found {actual}", {key: limit, "actual": actual})
