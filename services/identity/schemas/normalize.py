"""How identifier and address values are normalised before they are stored or looked up, after
Kratos's `x/normalize.go`.

Kratos parses phone numbers with libphonenumber. Warden has no phone library, so a phone number
"parses" when, once spaces, dashes, dots, parentheses and a "(0)" trunk prefix are removed, it is a
"+" followed by 7 to 15 digits (E.164's length). That accepts some numbers libphonenumber would call
invalid (unassigned ranges); it never rewrites a value that is not written as an international number.
"""

from __future__ import annotations

import re

from shared.identifiers import fold, fold_address

_TRUNK_PREFIX = "(0)"  # "+49 (0) 30 …": the national 0 is dropped when dialling internationally
_PHONE_PUNCTUATION = re.compile(r"[\s\-.()/]")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def e164(value: str) -> str | None:
    """The value as an E.164 number ("+4915112345678"), or None when it is not a phone number."""
    compact = _PHONE_PUNCTUATION.sub("", value.replace(_TRUNK_PREFIX, ""))
    return compact if _E164.fullmatch(compact) else None


def normalize_email(value: str) -> str:
    """Kratos's `NormalizeEmailIdentifier` (trimmed and lower-cased, but only if it has an "@"), with
    Warden's Unicode folding for addresses (`shared/identifiers.py`)."""
    return fold_address(value) if "@" in value else value


def normalize_phone(value: str) -> str:
    """E.164 when the value is a phone number, else the value trimmed."""
    return e164(value) or value.strip()


def graceful(value: str) -> str:
    """Kratos's `GracefulNormalization`, used for password, WebAuthn and code identifiers.

    A phone number becomes E.164; anything else (an email address or a username) is folded
    (`shared/identifiers.py`: NFKC, ignorables removed, case-folded, trimmed), so that "Alice",
    "alice" and a fullwidth or zero-width-spaced "alice" are one identifier. Folded first, so that a
    number typed with fullwidth digits or a zero-width space is the same E.164 number (migration
    identity_0008 rewrites those stored before)."""
    folded = fold(value)
    return e164(folded) or folded
