"""What Go's html/template does to a value printed inside a URL attribute of an HTML body, so that
Kratos's HTML template overrides render here as they do in Kratos (html/template's `urlFilter`,
`urlNormalizer` and `urlEscaper`).

A value that starts the attribute's value may not bring a scheme other than http, https or mailto:
`javascript:alert(1)` becomes `#ZgotmplZ`, Go's mark for a refused value. Further into the URL, a
value before the query is normalized (what may not stand in a URL is percent-encoded, the URL's
own punctuation kept); a value in the query or fragment is escaped whole, so that it stays one
parameter's value (`a&admin=1` cannot add a parameter). The context is read off what the template
wrote before the value, as html/template reads it off the template's text."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

REFUSED = "#ZgotmplZ"
# Attributes whose value is a URL (html/template's attrTypeMap, the ones an email may carry).
_URL_ATTRIBUTES = frozenset(
    {"action", "archive", "background", "cite", "classid", "codebase", "data", "formaction", "href", "icon"}
    | {"longdesc", "manifest", "poster", "profile", "src", "usemap", "xmlns"}
)
_SAFE_SCHEMES = ("http", "https", "mailto")
# An open tag's last attribute whose value is still open: its name, its quote, and its value so far.
_OPEN_VALUE = re.compile(r"""<[A-Za-z][^<>]*?\s([^\s"'<>/=]+)\s*=\s*(?:"([^"]*)|'([^']*)|([^\s"'<>=`]*))$""")
_TAIL = 2048  # how much of what was written is read back for the context: a tag's start is in it
# What a URL may hold as it is (unreserved and reserved characters, and % of an existing escape).
_NORMAL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!#$&*+,/:;=?@[]%")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def in_url_attribute(written: Sequence[str]) -> Callable[[str], str] | None:
    """What a value printed next must go through, if it lands in a URL attribute's value."""
    tail = ""
    for chunk in reversed(written):
        tail = chunk + tail
        if len(tail) >= _TAIL:
            break
    found = _OPEN_VALUE.search(tail[-_TAIL:])
    if found is None or found.group(1).lower() not in _URL_ATTRIBUTES:
        return None
    so_far = next(value for value in found.groups()[1:] if value is not None)
    if not so_far.strip():
        return _filtered
    if "?" in so_far or "#" in so_far:
        return _escaped
    return _normalized


def _filtered(value: str) -> str:
    """A scheme is what comes before the first colon, unless a slash does (`/a:b` is a path), as
    html/template's `urlFilter` reads it: ` javascript:` and `java\tscript:` are refused too."""
    scheme, colon, _ = value.partition(":")
    if colon and "/" not in scheme and scheme.lower() not in _SAFE_SCHEMES:
        return REFUSED
    return _normalized(value)


def _normalized(value: str) -> str:
    return "".join(c if c in _NORMAL else _percent(c) for c in value)


def _escaped(value: str) -> str:
    return "".join(c if c in _UNRESERVED else _percent(c) for c in value)


def _percent(character: str) -> str:
    return "".join(f"%{byte:02x}" for byte in character.encode())  # lowercase, as Go writes it
