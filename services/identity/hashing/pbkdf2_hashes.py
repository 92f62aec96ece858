"""PBKDF2 as Kratos encodes it: `$pbkdf2-<digest>$i=<iterations>,l=<length>$<salt>$<key>`, salt and
key base64 unpadded. Like Kratos, the key length is the decoded key's and `l` is not used, and
`sha224`/`sha384` mean SHA3-224/SHA3-384 (Kratos's `getPseudorandomFunctionForPbkdf2`), so hashes
Kratos wrote verify here. Kratos falls back to SHA-256 for any other digest name; this refuses it."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from . import bounds
from .encoding import b64_raw_strict, same
from .errors import InvalidImportedHash
from .family import HashFamily, match_or_reject

_ENCODED = re.compile(r"\$pbkdf2-(sha[0-9]{1,3})\$i=([0-9]{1,10}),l=([0-9]{1,10})\$([^$]*)\$([^$]*)")
_DIGESTS = {"sha1": "sha1", "sha224": "sha3_224", "sha256": "sha256", "sha384": "sha3_384", "sha512": "sha512"}


@dataclass(frozen=True)
class Pbkdf2Hash:
    digest: str
    iterations: int
    salt: bytes
    key: bytes


def parse_pbkdf2(encoded: str) -> Pbkdf2Hash:
    name, iterations, _length, salt, key = match_or_reject(_ENCODED, encoded, "pbkdf2").groups()
    if name not in _DIGESTS:
        raise InvalidImportedHash(f"pbkdf2 digest {name} is not one of {', '.join(_DIGESTS)}")
    return Pbkdf2Hash(
        digest=_DIGESTS[name],
        iterations=bounds.check_range("pbkdf2 i", int(iterations), 1, bounds.PBKDF2_MAX_ITERATIONS),
        salt=bounds.check_length("pbkdf2 salt", b64_raw_strict(salt, "pbkdf2 salt"), 0, bounds.MAX_SALT),
        key=bounds.check_length(
            "pbkdf2 key", b64_raw_strict(key, "pbkdf2 key"), bounds.MIN_DERIVED_KEY, bounds.PBKDF2_MAX_KEY
        ),
    )


def verify_pbkdf2(password: bytes, stored: Pbkdf2Hash) -> bool:
    derived = hashlib.pbkdf2_hmac(stored.digest, password, stored.salt, stored.iterations, len(stored.key))
    return same(derived, stored.key)


PBKDF2 = HashFamily("pbkdf2", re.compile(r"\$pbkdf2-sha[0-9]{1,3}\$"), parse_pbkdf2, verify_pbkdf2)
