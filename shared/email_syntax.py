"""Whether a string is written as an email address (or a hostname), by the rules of ory/jsonschema's
`email` format, which Kratos checks traits and the recovery and verification forms with: the
identity service's schema formats and self-service's address forms ask the same question."""

from __future__ import annotations

import re

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+"
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
# Go's net/mail (which ory/jsonschema parses with): qtext and a quoted pair's second character are
# visible characters, a space or a tab. No other control character, a bare CR above all: the address
# goes into mail headers and SMTP commands, where one ends a line.
_QUOTED_CHAR = r"[^\x00-\x08\x0a-\x1f\x7f]"
_QUOTED = re.compile(rf'"(?:(?!["\\]){_QUOTED_CHAR}|\\{_QUOTED_CHAR})*"')
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def is_hostname(value: str) -> bool:
    host = value[:-1] if value.endswith(".") else value
    return 0 < len(host) <= 253 and all(_LABEL.fullmatch(label) for label in host.split("."))


def is_email(value: str) -> bool:
    """RFC 5322 addr-spec with a hostname domain: rejects "foo" and "a@b c", accepts "a@b.co"."""
    local, at, domain = value.rpartition("@")
    if not at or len(value) > 254 or not 0 < len(local) <= 64:
        return False
    return is_hostname(domain) and bool(_DOT_ATOM.fullmatch(local) or _QUOTED.fullmatch(local))
