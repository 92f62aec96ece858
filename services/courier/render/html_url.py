"""What Go's html/template does to a value printed inside a tag of an HTML body, so that Kratos's
HTML template overrides render here as they do in Kratos (html/template's `urlFilter`,
`urlNormalizer`, `urlEscaper` and `htmlNospaceEscaper`).

A value that starts a URL attribute's value may not bring a scheme other than http, https or mailto:
`javascript:alert(1)` becomes `#ZgotmplZ`, Go's mark for a refused value. Further into the URL, a
value before the query is normalized (what may not stand in a URL is percent-encoded, the URL's
own punctuation kept); a value in the query or fragment is escaped whole, so that it stays one
parameter's value (`a&admin=1` cannot add a parameter). A value in an unquoted attribute value, or
where an attribute name goes, has its spaces, `=` and quotes escaped too, so that it cannot end the
value and add an attribute (`x href=javascript:...`).

The context is read off the template's text written before the value, as html/template reads it
off the template: never off the values printed so far, which stand in it as VALUE. A value neither
starts a URL nor ends an attribute, so `{{ .A }}{{ .B }}` at a link's start filters both (`java` and
`script:alert(1)` would together make a scheme)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence

from markupsafe import escape

REFUSED = "#ZgotmplZ"
EMPTY_UNQUOTED = "ZgotmplZ"  # an empty unquoted value would leave the next attribute as this one's value
VALUE = "\0"  # a value printed so far, where the context is read
# Attributes whose value is a URL (html/template's attrTypeMap, the ones an email may carry; and, as
# html/template's `attrType` guesses, any whose name holds src, uri or url).
_URL_ATTRIBUTES = frozenset(
    {"action", "archive", "background", "cite", "classid", "codebase", "data", "formaction", "href", "icon"}
    | {"longdesc", "manifest", "poster", "profile", "src", "usemap", "xmlns"}
)
_SAFE_SCHEMES = ("http", "https", "mailto")
# An open tag's last attribute whose value is still open: its name, and its value so far (double
# quoted, single quoted or unquoted: an unquoted value may hold `=`, browsers take it as part of it).
_OPEN_VALUE = re.compile(r"""<[A-Za-z][^<>]*?[\s/]([^\s"'<>/=]+)\s*=\s*(?:"([^"]*)|'([^']*)|([^\s"'<>`]*))$""")
_IN_TAG = re.compile(r"<[A-Za-z][^<>]*$")  # inside a tag, outside a value: where an attribute's name goes
_TAIL = 2048  # how much of what was written is read back for the context: a tag's start is in it
# What a URL may hold as it is (unreserved and reserved characters, and % of an existing escape).
_NORMAL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!#$&*+,/:;=?@[]%")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# html/template's htmlNospaceEscaper: what could end an unquoted value or start another attribute.
_NOSPACE = str.maketrans(
    {"\0": "&#xfffd;", "\t": "&#9;", "\n": "&#10;", "\v": "&#11;", "\f": "&#12;", "\r": "&#13;", " ": "&#32;"}
    | {'"': "&#34;", "&": "&amp;", "'": "&#39;", "+": "&#43;", "<": "&lt;", "=": "&#61;", ">": "&gt;", "`": "&#96;"}
)


def in_tag(written: Sequence[str]) -> Callable[[str], str] | None:
    """The escaping of a value printed next, HTML escaping included, if it lands inside a tag; None
    in text, where HTML escaping alone does. `written`: what was written so far, each value printed
    as VALUE."""
    tail = ""
    for chunk in reversed(written):
        tail = chunk + tail
        if len(tail) >= _TAIL:
            break
    tail = tail[-_TAIL:]
    found = _OPEN_VALUE.search(tail)
    if found is None:
        return _nospace if _IN_TAG.search(tail) else None
    name, *values = found.groups()
    so_far = next(value for value in values if value is not None)
    url = _url_part(html.unescape(so_far.replace(VALUE, ""))) if _is_url(name.lower()) else None
    if values[2] is not None:  # unquoted
        return lambda value: _nospace(url(value) if url else value) or EMPTY_UNQUOTED
    return lambda value: _attribute(url(value) if url else value)


def _is_url(name: str) -> bool:
    """As html/template's `attrType`: `data-` and a namespace (`xlink:`) set aside."""
    if name.startswith("data-"):
        name = name[5:]
    elif ":" in name:
        prefix, _, name = name.partition(":")
        if prefix == "xmlns":
            return True
    return name in _URL_ATTRIBUTES or any(part in name for part in ("src", "uri", "url"))


def _url_part(so_far: str) -> Callable[[str], str]:
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


def _attribute(value: str) -> str:
    return str(escape(value))


def _nospace(value: str) -> str:
    return value.translate(_NOSPACE)
