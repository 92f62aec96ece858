"""How a message reads on a page of the built-in UI. The API keeps Kratos's texts as they are (some
start in lower case, minutes are printed as Go's `%.2f`, plurals are fixed: "60.00 minutes",
"1 seconds"); the page shows them as sentences, with whole minutes and the right plurals. Only
numbers followed by a unit are touched, so hooks' own texts come through unchanged otherwise."""

from __future__ import annotations

import re
from typing import Any

# "59.98 minutes" (Kratos's privileged-session and flow-expiry texts).
_FRACTIONAL_MINUTES = re.compile(r"\b(\d+\.\d+) minutes\b")
# "1 seconds", "1 characters", "1 items": a count of one with a plural noun.
_ONE_OF_PLURAL = re.compile(r"(?<![\d.])1 (second|minute|hour|day|character|item|attempt|code)s\b")


def sentence(text: Any) -> str:
    """The message as it reads on the page: capitalised, whole minutes, plurals that agree."""
    words = _ONE_OF_PLURAL.sub(r"1 \1", _FRACTIONAL_MINUTES.sub(_whole_minutes, str(text or "")))
    return words[:1].upper() + words[1:]


def _whole_minutes(found: re.Match[str]) -> str:
    """Rounded, and never "0 minutes" for time that is left or gone: at least one."""
    count = max(1, round(float(found.group(1))))
    return count_of(count, "minute")


def count_of(count: int, noun: str) -> str:
    """ "1 minute", "2 minutes" (the nouns this UI counts take an s)."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
