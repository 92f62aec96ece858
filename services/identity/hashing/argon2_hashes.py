"""argon2id and argon2i in the PHC string format Kratos reads and writes:
`$argon2id$v=19$m=<KiB>,t=<iterations>,p=<lanes>$<salt>$<key>`, base64 unpadded."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from argon2.exceptions import HashingError
from argon2.low_level import ARGON2_VERSION, Type

from shared.kdf import Argon2idParams, argon2_raw

from . import bounds
from .encoding import b64_raw, b64_raw_strict, same
from .family import HashFamily, match_or_reject

_ENCODED = re.compile(
    r"\$(argon2id|argon2i)\$v=([0-9]{1,10})\$m=([0-9]{1,10}),t=([0-9]{1,10}),p=([0-9]{1,10})\$([^$]*)\$([^$]*)"
)
_TYPES = {"argon2id": Type.ID, "argon2i": Type.I}


@dataclass(frozen=True)
class Argon2Hash:
    variant: str
    memory_kib: int
    iterations: int
    parallelism: int
    salt: bytes
    key: bytes


def parse_argon2(encoded: str) -> Argon2Hash:
    found = match_or_reject(_ENCODED, encoded, "argon2")
    variant, version, memory, iterations, parallelism, salt, key = found.groups()
    bounds.check_range("argon2 v", int(version), ARGON2_VERSION, ARGON2_VERSION)
    lanes = bounds.check_range("argon2 p", int(parallelism), 1, bounds.ARGON2_MAX_PARALLELISM)
    # libargon2 needs 8 KiB per lane; Go's argon2 silently raises smaller values instead.
    return Argon2Hash(
        variant=variant,
        memory_kib=bounds.check_range("argon2 m", int(memory), 8 * lanes, bounds.ARGON2_MAX_MEMORY_KIB),
        iterations=bounds.check_range("argon2 t", int(iterations), 1, bounds.ARGON2_MAX_ITERATIONS),
        parallelism=lanes,
        salt=bounds.check_length(
            "argon2 salt", b64_raw_strict(salt, "argon2 salt"), bounds.ARGON2_MIN_SALT, bounds.MAX_SALT
        ),
        key=bounds.check_length(
            "argon2 key", b64_raw_strict(key, "argon2 key"), bounds.MIN_DERIVED_KEY, bounds.MAX_DERIVED_KEY
        ),
    )


def verify_argon2(password: bytes, stored: Argon2Hash) -> bool:
    try:
        derived = _derive(password, stored.salt, stored, len(stored.key))
    except HashingError:
        return False
    return same(derived, stored.key)


def hash_argon2id(
    password: bytes, *, memory_kib: int, iterations: int, parallelism: int, salt_length: int, key_length: int
) -> str:
    params = Argon2Hash("argon2id", memory_kib, iterations, parallelism, b"", b"")
    salt = os.urandom(salt_length)
    key = _derive(password, salt, params, key_length)
    return f"$argon2id$v={ARGON2_VERSION}$m={memory_kib},t={iterations},p={parallelism}${b64_raw(salt)}${b64_raw(key)}"


def _derive(password: bytes, salt: bytes, params: Argon2Hash, key_length: int) -> bytes:
    cost = Argon2idParams(params.memory_kib, params.iterations, params.parallelism)
    return argon2_raw(password, salt, cost, key_length, _TYPES[params.variant])


ARGON2ID = HashFamily("argon2id", re.compile(r"\$argon2id\$"), parse_argon2, verify_argon2)
ARGON2I = HashFamily("argon2i", re.compile(r"\$argon2i\$"), parse_argon2, verify_argon2)
