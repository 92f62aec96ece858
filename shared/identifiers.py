"""Identifier folding, PRECIS-like (RFC 8264/8265): the same text typed in another form is the same
identifier. Unicode lets "alice" be written as NFD, fullwidth ("ａｌｉｃｅ"), with a zero-width space
or a soft hyphen inside, or with mixed case; each of those registered a separate look-alike account
(review finding 11).

`fold` is for identifiers that are only looked up (usernames, password and WebAuthn identifiers):
NFKC (width and compatibility forms), default-ignorable code points removed (they render as
nothing), Unicode case folding, NFKC again (folding can denormalise), whitespace trimmed: Unicode's
NFKC_Casefold without its ignorables, which is what PRECIS's UsernameCaseMapped profile amounts to.

`fold_address` is for email addresses, which also receive mail: the same, but lower-cased instead of
case-folded, because folding rewrites letters ("ß" to "ss") and would send the mail to another
mailbox.

The identity service's migration `0004_fold_identifiers` keeps a frozen copy of these rules (a
migration is history); a change here needs a new migration for the rows already stored.
"""

from __future__ import annotations

import re
import unicodedata

# Unicode's Default_Ignorable_Code_Point property (DerivedCoreProperties.txt, Unicode 15.1).
DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)


# The same ranges as one character class: folding runs three times per login (throttle keys and the
# lookup), and a range test per character took a fifth of a millisecond of the event loop each time.
_IGNORABLE = re.compile("[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in DEFAULT_IGNORABLE) + "]")


def is_default_ignorable(char: str) -> bool:
    return _IGNORABLE.fullmatch(char) is not None


def _visible(value: str) -> str:
    if value.isascii():  # NFKC leaves ASCII alone, and no default-ignorable code point is ASCII
        return value
    return _IGNORABLE.sub("", unicodedata.normalize("NFKC", value))


def fold(value: str) -> str:
    return unicodedata.normalize("NFKC", _visible(value).casefold()).strip()


def fold_address(value: str) -> str:
    return unicodedata.normalize("NFKC", _visible(value).lower()).strip()
