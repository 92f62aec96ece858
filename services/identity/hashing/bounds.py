"""Bounds on the cost parameters an encoded hash may declare.

A hash's parameters come from whoever produced it, so an imported hash could ask for gigabytes of
memory or minutes of CPU at every login. Kratos checks them (`hash/hash_limits.go`); these are its
bounds, tightened where noted, and they apply both at import and at every verification. The
configured hasher must stay inside them too, or Warden could not verify its own hashes.
"""

from __future__ import annotations

from .errors import InvalidImportedHash

MAX_ENCODED_LENGTH = 4096  # Kratos has none; the longest real format (firescrypt) is ~250 chars.

BCRYPT_MAX_COST = 15  # ~2 s per compare; no mainstream platform defaults above 12.

ARGON2_MAX_MEMORY_KIB = 1 << 20  # 1 GiB, Kratos's default dedicated_memory.
ARGON2_MAX_ITERATIONS = 10  # Bitwarden's cap, the highest documented production value.
ARGON2_MAX_PARALLELISM = 16
ARGON2_MIN_SALT = 8  # libargon2 refuses shorter salts (Go's argon2 does not).

# Kratos allows 10,000,000; that is ~10 s of SHA-512 on one core here. OWASP's highest
# recommendation is 1,300,000 (PBKDF2-HMAC-SHA1).
PBKDF2_MAX_ITERATIONS = 2_000_000
PBKDF2_MAX_KEY = 64  # PBKDF2 repeats all iterations for every digest-sized block of output.

SCRYPT_MAX_N = 1 << 17  # OWASP's recommended minimum; with r=8, 128 MiB per compare.
SCRYPT_MAX_R = 8
SCRYPT_MAX_P = 10
FIRESCRYPT_MAX_LOG_N = 17

# crypt(3) holds the GIL for the whole computation (~0.35 s at the bound here); passlib's defaults,
# the highest in common use, are 535,000 (SHA-256) and 656,000 (SHA-512).
SHA_CRYPT_MAX_ROUNDS = 1_000_000

MIN_DERIVED_KEY = 16  # a shorter key lets random passwords match now and then
MAX_DERIVED_KEY = 1024
MAX_SALT = 1024


def check_range(what: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise InvalidImportedHash(f"hash parameters exceed allowed bounds: {what}={value} not in [{low}, {high}]")
    return value


def check_length(what: str, data: bytes, low: int, high: int) -> bytes:
    if not low <= len(data) <= high:
        raise InvalidImportedHash(f"{what} is {len(data)} bytes, not in [{low}, {high}]")
    return data
