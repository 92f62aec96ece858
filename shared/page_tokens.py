"""Page tokens sealed as Kratos's `secrets.pagination` asks: "to avoid clients reverse-engineering
and relying on the implementation details of the pagination token, it is encrypted with these keys".

A token is the last key of the previous page, sealed with XChaCha20-Poly1305 (`shared.cipher`) and
written base64url without padding, so that it goes into a URL as it is. The first secret seals and
every listed one opens (rotation: a token handed out before the new secret was put first still
pages on). Which secrets:

- `secrets.pagination`, when the config lists any;
- else `secrets.default`, Kratos's fallback for every other secret;
- else a built-in one, as Kratos falls back on a built-in key: the tokens stay opaque to a client,
  but whoever reads this file can open or make one. They only ever name a place in a list the
  admin API serves anyway, so this is what lets Warden page out of the box.

Only the secrets in force open a token: a token sealed under the built-in secret is refused once a
secret is configured (Kratos tries its built-in key last, always). A client that is walking a list
when the secrets change starts that list again; tokens are for following a `Link`, not for keeping.

Each secret becomes its key through HKDF-SHA256 labelled with this use, so that the key is never
the one `secrets.default` gives cookies or backup codes. Nothing is random or per process: every
process with the same config opens the tokens of every other (the session replicas, the services
of a distributed deployment)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.cipher import DecryptionFailed, XChaCha20Poly1305

# Public on purpose (see above); configure secrets.pagination or secrets.default to keep tokens closed.
BUILTIN_SECRET = "warden-built-in-page-token-secret-configure-secrets-pagination"
_LABEL = b"warden page token v1"


def _key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(secret.encode())


class PageTokens:
    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise ValueError("page tokens need at least one secret")
        self._aead = XChaCha20Poly1305([_key(s) for s in secrets])

    @classmethod
    def from_settings(cls, settings: Any) -> PageTokens:
        """`settings` is a `shared.config.Settings`."""
        secrets = settings.secrets
        return cls(secrets.pagination or secrets.default or [BUILTIN_SECRET])

    def seal(self, key: str) -> str:
        """A token that never starts with `-`: `warden identities list --page-token -…` would take it
        for an option (one in 64 did, by its random nonce; sealed again, it gets another)."""
        while True:
            token = base64.urlsafe_b64encode(self._aead.encrypt_bytes(key.encode())).decode().rstrip("=")
            if not token.startswith("-"):
                return token

    def open(self, token: str) -> str:
        """The key `seal` was given; DecryptionFailed for anything no secret in force sealed."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise DecryptionFailed("a page token is base64url") from None
        try:
            return self._aead.decrypt_bytes(raw).decode()
        except UnicodeDecodeError:  # sealed by someone holding the key, but not by Warden
            raise DecryptionFailed("a page token holds UTF-8") from None
