"""Removing a passkey or a security key in settings, as Kratos shows and answers it: the remove
buttons carry the credential id in hex (Go's `%x`), the last key an account can sign in with is
shown disabled (passkeys) or not at all (passwordless security keys), and removing it anyway, or a
key the account does not have, answers 400 with Kratos's generic 4000001 message and its words."""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import Any

from webauthn.helpers import base64url_to_bytes

from services.selfservice.flows.flow import Flow
from services.selfservice.flows.ui import input_node
from shared import text

# webauthnx.ErrNotEnoughCredentials: a schema error pointing at `#/webauthn_remove`, for passkeys too.
LOCK_OUT = "unable to remove this security key because it would lock you out of your account"


def remove_value(key: Mapping[str, Any]) -> str:
    """The value of a key's remove button: its credential id in hex, as Kratos renders it."""
    try:
        return base64url_to_bytes(str(key.get("id") or "")).hex()
    except (ValueError, binascii.Error):
        return str(key.get("id") or "")


def chosen(key: Mapping[str, Any], value: Any) -> bool:
    """Whether a submitted remove value names this key: hex as rendered, or the stored base64url id
    (what Warden's buttons carried before)."""
    return isinstance(value, str) and bool(value) and value in (remove_value(key), key.get("id"))


def refuse_lock_out(flow: Flow) -> None:
    """Kratos puts the message on the `webauthn_remove` node, adding that node (a text input in the
    default group) when the form has none, as it does for passkeys."""
    node = flow.ui.find("webauthn_remove")
    if node is None:
        node = input_node("default", "webauthn_remove", "text")
        flow.ui.add(node)
    node.messages.append(text.validation_failed(LOCK_OUT))


def refuse_unknown(flow: Flow, what: str) -> None:
    """A remove value that names no key of the account (Kratos's words, in the form's messages)."""
    flow.ui.messages.append(text.validation_failed(f"You tried to remove a {what} which does not exist."))
