"""Every hash format Warden accepts on import and at login, in Kratos's order
(`hash/hash_comparator.go`, `Compare`), and the two questions asked of them."""

from __future__ import annotations

from .argon2_hashes import ARGON2I, ARGON2ID
from .bcrypt_hashes import BCRYPT
from .bounds import MAX_ENCODED_LENGTH
from .crypt_hashes import MD5_CRYPT, SHA256_CRYPT, SHA512_CRYPT
from .digest_hashes import HMAC, MD5, SHA, SSHA
from .encoding import password_bytes
from .errors import InvalidImportedHash
from .family import HashFamily
from .pbkdf2_hashes import PBKDF2
from .scrypt_hashes import FIRESCRYPT, SCRYPT

FAMILIES: tuple[HashFamily, ...] = (
    MD5_CRYPT,
    BCRYPT,
    SHA256_CRYPT,
    SHA512_CRYPT,
    ARGON2ID,
    ARGON2I,
    PBKDF2,
    SCRYPT,
    SSHA,
    SHA,
    FIRESCRYPT,
    MD5,
    HMAC,
)


def family_of(encoded: str) -> HashFamily:
    if len(encoded) > MAX_ENCODED_LENGTH:
        raise InvalidImportedHash(f"hash is longer than {MAX_ENCODED_LENGTH} characters")
    for family in FAMILIES:
        if family.recognises(encoded):
            return family
    raise InvalidImportedHash("unknown hash algorithm")


def validate_imported_hash(encoded: str) -> None:
    """Raise `InvalidImportedHash` (a ValueError whose text is Kratos's message) unless `encoded` is
    of a known format, well formed, and within the cost bounds (see `bounds`)."""
    family_of(encoded).parse(encoded)


def verify_any(password: str, encoded: str) -> bool:
    """Whether `password` matches `encoded`, whatever its format. Blocking and CPU-heavy: call it
    from a worker thread (as `Hasher.verify` does). Unknown, malformed or out-of-bounds: False."""
    try:
        family = family_of(encoded)
        parsed = family.parse(encoded)
    except InvalidImportedHash:
        return False
    return family.verify(password_bytes(password), parsed)
