"""A passkey's user handle and the credential identifier it is found by, as Kratos keeps them, for
the identity service (imports) and self-service (sign-up, settings, sign-in) alike.

Kratos's handles are 64 random letters and digits (`randx.AlphaNum`); the credential's identifier is
those bytes as text (`string(userHandle)`), and its config keeps the bytes (base64 in JSON). Warden
keeps the config's `user_handle` as base64url text and the identifier as Kratos does, so identities
move between the two and a sign-in finds the account from the assertion's `userHandle` either way.
Handles Warden issued before were 32 random bytes whose identifier was their base64url text: bytes
that are not printable text keep that form."""

from __future__ import annotations

import base64
import binascii
import secrets
import string

_ALPHANUMERIC = string.ascii_letters + string.digits


def new() -> str:
    """A new handle, base64url as the options and the config carry it: 64 letters and digits, random
    (never the identity id: WebAuthn §14.6.1)."""
    return encode("".join(secrets.choice(_ALPHANUMERIC) for _ in range(64)).encode())


def encode(handle: bytes) -> str:
    return base64.urlsafe_b64encode(handle).rstrip(b"=").decode()


def decode(text: str) -> bytes | None:
    """A handle given as base64url or as standard base64 (Kratos's JSON), padded or not."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        return None


def identifier(handle: bytes) -> str:
    """The credential identifier a handle is found by: Kratos's `string(userHandle)` for a handle
    of printable text, else its base64url text (Warden's earlier random-byte handles)."""
    if handle.isascii() and handle.decode().isprintable() and handle:
        return handle.decode()
    return encode(handle)


def identifier_of(config_handle: str) -> str:
    """The identifier of a credential config's `user_handle` (base64url or base64 text)."""
    handle = decode(config_handle)
    return identifier(handle) if handle is not None else config_handle


def config_forms(handle: bytes) -> tuple[str, ...]:
    """The texts a credential config's `user_handle` may hold for these bytes: Kratos's JSON (standard
    base64, padded), Warden's (base64url, unpadded) and the two others a hand-written import might use.
    A WebAuthn credential is found by it (Kratos's `FindIdentityByWebauthnUserHandle`)."""
    standard = base64.b64encode(handle).decode()
    url = base64.urlsafe_b64encode(handle).decode()
    return tuple(dict.fromkeys([standard, url.rstrip("="), standard.rstrip("="), url]))
