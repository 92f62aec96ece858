"""Kratos's UI text object (`text.Message`, spec `uiText`) and the Go formatting its texts rely on.

A message is `{"id", "text", "type", "context"}`. Kratos leaves `context` out when a message has none
(`json:"context,omitempty"`; see the password snapshots, e.g. 1070001 "Password" has no context), so
`to_json` does too; `from_json` accepts both shapes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

INFO = "info"
ERROR = "error"
SUCCESS = "success"


@dataclass(frozen=True)
class Message:
    id: int
    text: str
    type: str
    # Only JSON values: datetimes are already rendered the way Go marshals time.Time.
    context: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "text": self.text, "type": self.type}
        if self.context:
            body["context"] = dict(self.context)
        return body

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        return cls(int(data["id"]), data["text"], data["type"], dict(data.get("context") or {}))


def info(id: int, text: str, context: dict[str, Any] | None = None) -> Message:
    return Message(id, text, INFO, context or {})


def error(id: int, text: str, context: dict[str, Any] | None = None) -> Message:
    return Message(id, text, ERROR, context or {})


def success(id: int, text: str, context: dict[str, Any] | None = None) -> Message:
    return Message(id, text, SUCCESS, context or {})


# --- Go formatting -------------------------------------------------------------------------------


def go_quote(value: str) -> str:
    """Go's %q for printable text: a double-quoted string with JSON-like escapes."""
    return json.dumps(value, ensure_ascii=False)


def go_number(value: Any) -> Any:
    """A float64 as Go prints (%v) and marshals it: 5.0 is 5."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def minutes(delta: timedelta) -> str:
    """Go's `fmt.Sprintf("%.2f", d.Minutes())`."""
    return f"{delta.total_seconds() / 60:.2f}"


def utc_aware(moment: datetime) -> datetime:
    """Naive datetimes are taken to be UTC, as Warden stores them."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def go_time_json(moment: datetime) -> str:
    """time.Time as Go marshals it (RFC 3339, fraction without trailing zeros, `Z` for UTC)."""
    moment = utc_aware(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + _fraction(moment) + _offset(moment, "Z", ":")


def go_time_string(moment: datetime) -> str:
    """time.Time's String(): `2020-01-01 00:59:59 +0000 UTC`."""
    moment = utc_aware(moment)
    offset = _offset(moment, "+0000", "")
    zone = "UTC" if offset == "+0000" else offset
    return f"{moment.strftime('%Y-%m-%d %H:%M:%S')}{_fraction(moment)} {offset} {zone}"


def unix(moment: datetime) -> int:
    """Go's Time.Unix(): whole seconds, rounded down."""
    return math.floor(utc_aware(moment).timestamp())


def flow_expired(id: int, flow: str, expired_at: datetime, now: datetime) -> Message:
    """4010001, 4040001, 4050001, 4060005, 4070005: one wording for every flow."""
    ago = minutes(utc_aware(now) - utc_aware(expired_at))
    context = {"expired_at": go_time_json(expired_at), "expired_at_unix": unix(expired_at)}
    return error(id, f"The {flow} flow expired {ago} minutes ago, please try again.", context)


def _fraction(moment: datetime) -> str:
    return f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else ""


def _offset(moment: datetime, utc: str, separator: str) -> str:
    offset = moment.utcoffset() or timedelta(0)
    if not offset:
        return utc
    sign = "-" if offset < timedelta(0) else "+"
    hours, rest = divmod(int(abs(offset).total_seconds()) // 60, 60)
    return f"{sign}{hours:02d}{separator}{rest:02d}"
