"""scrypt and Firebase's modified scrypt, as Kratos encodes them (all parts padded base64).

- `$scrypt$ln=<N>,r=<r>,p=<p>$<salt>$<key>`: despite its name, `ln` is N itself, not log2(N)
  (Kratos passes it to scrypt unchanged; its tests use `ln=16384`). passlib's `$scrypt$ln=14...`
  therefore does not verify, in Kratos or here.
- `$firescrypt$ln=<mem_cost>,r=<rounds>,p=<p>$<salt>$<hash>$<salt_separator>$<signer_key>`: here
  N = 2**ln; the scrypt output (32 bytes, over salt + separator) is an AES-256-CTR key, with a zero
  IV, that encrypts the project's signer key; the result is the stored hash.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from . import bounds
from .encoding import b64_std_strict, same
from .errors import InvalidImportedHash
from .family import HashFamily, match_or_reject

_PARAMS = r"ln=([0-9]{1,10}),r=([0-9]{1,10}),p=([0-9]{1,10})"
_SCRYPT = re.compile(rf"\$scrypt\${_PARAMS}\$([^$]*)\$([^$]*)")
_FIRESCRYPT = re.compile(rf"\$firescrypt\${_PARAMS}\$([^$]*)\$([^$]*)\$([^$]*)\$([^$]*)")
_FIREBASE_KEY_LENGTH = 32


@dataclass(frozen=True)
class ScryptHash:
    n: int
    r: int
    p: int
    salt: bytes
    key: bytes
    signer_key: bytes = b""  # firescrypt only


def parse_scrypt(encoded: str) -> ScryptHash:
    n, r, p, salt, key = match_or_reject(_SCRYPT, encoded, "scrypt").groups()
    cost = bounds.check_range("scrypt N", int(n), 2, bounds.SCRYPT_MAX_N)
    if cost & (cost - 1):
        raise InvalidImportedHash(f"scrypt N={cost} is not a power of two")
    return ScryptHash(
        n=cost,
        r=bounds.check_range("scrypt r", int(r), 1, bounds.SCRYPT_MAX_R),
        p=bounds.check_range("scrypt p", int(p), 1, bounds.SCRYPT_MAX_P),
        salt=bounds.check_length("scrypt salt", b64_std_strict(salt, "scrypt salt"), 0, bounds.MAX_SALT),
        key=bounds.check_length(
            "scrypt key", b64_std_strict(key, "scrypt key"), bounds.MIN_DERIVED_KEY, bounds.MAX_DERIVED_KEY
        ),
    )


def parse_firescrypt(encoded: str) -> ScryptHash:
    log_n, r, p, salt, key, separator, signer = match_or_reject(_FIRESCRYPT, encoded, "firescrypt").groups()
    # The stored hash is the signer key encrypted, as long as the key: a short one would let random
    # passwords match now and then, as a short derived key would.
    signer_key = bounds.check_length(
        "firescrypt signer key",
        b64_std_strict(signer, "firescrypt signer key"),
        bounds.MIN_DERIVED_KEY,
        bounds.MAX_DERIVED_KEY,
    )
    salted = b64_std_strict(salt, "firescrypt salt") + b64_std_strict(separator, "firescrypt separator")
    return ScryptHash(
        n=1 << bounds.check_range("firescrypt ln", int(log_n), 1, bounds.FIRESCRYPT_MAX_LOG_N),
        r=bounds.check_range("firescrypt r", int(r), 1, bounds.SCRYPT_MAX_R),
        p=bounds.check_range("firescrypt p", int(p), 1, bounds.SCRYPT_MAX_P),
        salt=bounds.check_length("firescrypt salt and separator", salted, 0, bounds.MAX_SALT),
        key=bounds.check_length(  # AES-CTR output is as long as its input
            "firescrypt hash", b64_std_strict(key, "firescrypt hash"), len(signer_key), len(signer_key)
        ),
        signer_key=signer_key,
    )


def verify_scrypt(password: bytes, stored: ScryptHash) -> bool:
    return same(_derive(password, stored, len(stored.key)), stored.key)


def verify_firescrypt(password: bytes, stored: ScryptHash) -> bool:
    aes_key = _derive(password, stored, _FIREBASE_KEY_LENGTH)
    encryptor = Cipher(algorithms.AES(aes_key), modes.CTR(bytes(16))).encryptor()
    return same(encryptor.update(stored.signer_key) + encryptor.finalize(), stored.key)


def _derive(password: bytes, stored: ScryptHash, length: int) -> bytes:
    # OpenSSL needs 128·r·(N + p + 2) bytes; its default ceiling (32 MiB) is below the bounds.
    maxmem = 128 * stored.r * (stored.n + stored.p + 2) + (1 << 20)
    return hashlib.scrypt(password, salt=stored.salt, n=stored.n, r=stored.r, p=stored.p, maxmem=maxmem, dklen=length)


SCRYPT = HashFamily("scrypt", re.compile(r"\$scrypt\$"), parse_scrypt, verify_scrypt)
FIRESCRYPT = HashFamily("firescrypt", re.compile(r"\$firescrypt\$"), parse_firescrypt, verify_firescrypt)
