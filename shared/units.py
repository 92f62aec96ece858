"""Byte sizes and durations as Kratos's config writes them: "128MB" (binary units, as Go's
bytesize), "1s500ms" (Go durations, integers only, as the config schema's pattern requires)."""

from __future__ import annotations

import re
from datetime import timedelta

_SIZE = re.compile(r"([0-9]{1,20})(B|KB|MB|GB|TB|PB|EB)")
_SIZE_UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40, "PB": 1 << 50, "EB": 1 << 60}
_DURATION = re.compile(r"(?:[0-9]{1,15}(?:ns|us|ms|s|m|h))+")
_DURATION_PART = re.compile(r"([0-9]+)(ns|us|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_byte_size(value: object) -> int:
    """ "128MB" -> 134217728. Only strings: the schema types these keys as strings."""
    if not isinstance(value, str):
        raise ValueError(f'must be a size string such as "128MB", not {value!r}')
    found = _SIZE.fullmatch(value.strip())
    if found is None:
        raise ValueError(f'must be a size such as "64KB", "128MB" or "1GB", not {value!r}')
    return int(found[1]) * _SIZE_UNITS[found[2]]


def format_byte_size(size: int) -> str:
    """The largest unit that divides `size` exactly: 134217728 -> "128MB"."""
    for unit, factor in reversed(_SIZE_UNITS.items()):
        if size and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


def parse_duration(value: object) -> timedelta:
    if not isinstance(value, str) or _DURATION.fullmatch(value.strip()) is None:
        raise ValueError(f'must be a duration such as "500ms" or "1s", not {value!r}')
    seconds = sum(int(n) * _DURATION_UNITS[unit] for n, unit in _DURATION_PART.findall(value))
    try:
        return timedelta(seconds=seconds)
    except OverflowError:  # past timedelta's 999,999,999 days
        raise ValueError(f"must be a duration Python can hold, not {value!r}") from None


def format_duration(seconds: float) -> str:
    """To whole milliseconds, in Go's notation: 0.5 -> "500ms", 1.25 -> "1s250ms", 90 -> "1m30s"."""
    millis = max(0, round(seconds * 1000))
    if millis == 0:
        return "0s"
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    whole, millis = divmod(millis, 1000)
    parts = ((hours, "h"), (minutes, "m"), (whole, "s"), (millis, "ms"))
    return "".join(f"{amount}{unit}" for amount, unit in parts if amount)
