"""JSON pointers as ory/jsonschema writes them (`#/traits/email`); local `$ref` lookup is
`shared.schema_refs.resolve_local`, shared with the self-service forms.

Tokens are escaped as ory/jsonschema does: `~` -> `~0`, `/` -> `~1`, then percent-encoded like Go's
`url.PathEscape` (a trait named "first name" is `#/traits/first%20name`).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from shared.schema_refs import resolve_local, unescape

ROOT = "#"
__all__ = ["ROOT", "common_prefix", "escape", "join", "pointer", "resolve_local", "unescape"]
_GO_PATH_SAFE = "$&+:=@"  # what Go's url.PathEscape leaves alone besides letters, digits and -._~


def escape(token: str | int) -> str:
    text = str(token).replace("~", "~0").replace("/", "~1")
    return quote(text, safe=_GO_PATH_SAFE + "~")


def join(base: str, *tokens: str | int) -> str:
    return base + "".join("/" + escape(token) for token in tokens)


def pointer(tokens: Iterable[str | int]) -> str:
    return join(ROOT, *tokens)


def common_prefix(pointers: list[str]) -> str:
    """The longest pointer every one of `pointers` starts with, token by token."""
    split = [p.split("/") for p in pointers]
    common: list[str] = []
    for tokens in zip(*split):
        if any(token != tokens[0] for token in tokens):
            break
        common.append(tokens[0])
    return "/".join(common) or ROOT
