"""Byte-level helpers shared by the hash families: base64 as Go decodes it, and equality in
constant time."""

from __future__ import annotations

import base64
import binascii
import hmac

from .errors import InvalidImportedHash


def password_bytes(password: str) -> bytes:
    # Lone surrogates (possible in JSON) are kept rather than replaced, so two different passwords
    # never become the same bytes.
    return password.encode("utf-8", "surrogatepass")


def b64_std_strict(text: str, what: str) -> bytes:
    """Go's `base64.StdEncoding.Strict()`: padded, standard alphabet, canonical trailing bits."""
    return _decode(text, what, padded=True, strict=True)


def b64_std(text: str, what: str) -> bytes:
    """Go's `base64.StdEncoding` (not strict): padded, standard alphabet."""
    return _decode(text, what, padded=True, strict=False)


def b64_raw_strict(text: str, what: str) -> bytes:
    """Go's `base64.RawStdEncoding.Strict()`: unpadded (PHC strings), canonical trailing bits."""
    return _decode(text, what, padded=False, strict=True)


def b64_raw(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def _decode(text: str, what: str, *, padded: bool, strict: bool) -> bytes:
    if padded and len(text) % 4:
        raise InvalidImportedHash(f"{what}: base64 is not padded")
    if not padded and ("=" in text or len(text) % 4 == 1):
        raise InvalidImportedHash(f"{what}: not unpadded base64")
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidImportedHash(f"{what}: not base64") from None
    if strict:
        canonical = base64.b64encode(data).decode("ascii")
        if (canonical if padded else canonical.rstrip("=")) != text:
            raise InvalidImportedHash(f"{what}: base64 has non-zero trailing bits")
    return data
