"""JSON pointers as ory/jsonschema writes them (`#/traits/email`), and local `$ref` lookup.

Tokens are escaped as ory/jsonschema does: `~` -> `~0`, `/` -> `~1`, then percent-encoded like Go's
`url.PathEscape` (a trait named "first name" is `#/traits/first%20name`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote

ROOT = "#"
_GO_PATH_SAFE = "$&+:=@"  # what Go's url.PathEscape leaves alone besides letters, digits and -._~


def escape(token: str | int) -> str:
    text = str(token).replace("~", "~0").replace("/", "~1")
    return quote(text, safe=_GO_PATH_SAFE + "~")


def unescape(token: str) -> str:
    return unquote(token).replace("~1", "/").replace("~0", "~")


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


def resolve_local(root: dict[str, Any], ref: str) -> tuple[Any, str] | None:
    """The node a `$ref` inside `root` points to, and its pointer; None if it points elsewhere.

    Only references into the same document resolve (`#/definitions/x`, or the document's own `$id`
    followed by a fragment): schemas are never fetched, so Warden works offline."""
    base, _, fragment = ref.partition("#")
    if base and base != str(root.get("$id", "")).partition("#")[0]:
        return None
    if fragment and not fragment.startswith("/"):
        return None  # a named anchor ("#foo"), which identity schemas do not use
    node: Any = root
    for token in fragment.split("/")[1:]:
        node = _child(node, unescape(token))
        if node is None:
            return None
    return node, ROOT + fragment


def _child(node: Any, token: str) -> Any:
    if isinstance(node, dict):
        return node.get(token)
    if isinstance(node, list) and token.isdigit() and int(token) < len(node):
        return node[int(token)]
    return None
