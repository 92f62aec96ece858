"""The `format` checks identity schemas rely on, written here because jsonschema checks `email`
loosely ("has an @") and needs optional packages for `date-time`, `time` and `uri`.

They follow ory/jsonschema's `formats.go`, which Kratos validates traits with. One difference on
purpose: a value that is not a string passes (as the JSON Schema spec says), where ory/jsonschema
rejects it, which would reject `null` in a `"type": ["string", "null"], "format": "email"` trait.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from jsonschema import FormatChecker

from shared.email_syntax import is_email, is_hostname

from .normalize import e164
from .patterns import is_regex

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = r"\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})"
_FULL_TIME = re.compile(_TIME)
_DATE_TIME = re.compile(rf"\d{{4}}-\d{{2}}-\d{{2}}[Tt]{_TIME}")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s\x00-\x1f\x7f]*")
_NO_SPACE = re.compile(r"[^\s\x00-\x1f\x7f]*")


def is_tel(value: str) -> bool:
    return e164(value) is not None


def is_date(value: str) -> bool:
    return bool(_DATE.fullmatch(value)) and _parses(date.fromisoformat, value)


def is_time(value: str) -> bool:
    return bool(_FULL_TIME.fullmatch(value)) and _parses(time.fromisoformat, value.upper())


def is_date_time(value: str) -> bool:
    return bool(_DATE_TIME.fullmatch(value)) and _parses(datetime.fromisoformat, value.upper())


def is_uri(value: str) -> bool:
    return bool(_URI.fullmatch(value))


def is_uri_reference(value: str) -> bool:
    return bool(_NO_SPACE.fullmatch(value))


def is_ip(version: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            return ipaddress.ip_address(value).version == version
        except ValueError:
            return False

    return check


CHECKS: dict[str, Callable[[str], bool]] = {
    "email": is_email,
    "tel": is_tel,
    "date": is_date,
    "time": is_time,
    "date-time": is_date_time,
    "uri": is_uri,
    "iri": is_uri,
    "uri-reference": is_uri_reference,
    "iri-reference": is_uri_reference,
    "hostname": is_hostname,
    "ipv4": is_ip(4),
    "ipv6": is_ip(6),
    "regex": is_regex,  # RE2's syntax, as Go's regexp reads it
    "no-validate": lambda _value: True,  # Kratos's opt-out for fields with verification enabled
}


def format_checker() -> FormatChecker:
    """A fresh checker (FormatChecker is mutable, so none is shared). Unknown formats pass."""
    checker = FormatChecker(formats=())
    for name, check in CHECKS.items():
        checker.checks(name)(_strings_only(check))
    return checker


def _strings_only(check: Callable[[str], bool]) -> Callable[[Any], bool]:
    return lambda value: not isinstance(value, str) or check(value)


def _parses(parse: Callable[[str], Any], value: str) -> bool:
    try:
        parse(value)
    except (ValueError, re.error):
        return False
    return True
