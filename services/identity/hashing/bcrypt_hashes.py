"""bcrypt, as `$2a$<cost>$<22 chars salt><31 chars hash>`.

Kratos accepts `$2$`, `$2a$`, `$2b$`, `$2y$` and `$2z$`: for passwords of at most 72 bytes they are
one algorithm (the letters mark fixes for bugs that longer passwords or other platforms hit), so each
is checked as `$2b$`. Passwords over 72 bytes are refused when hashing and never match when
verifying, as in Kratos: bcrypt would silently ignore everything past byte 72.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import bcrypt

from . import bounds
from .errors import BCRYPT_MAX_PASSWORD_BYTES, PasswordTooLong
from .family import HashFamily, match_or_reject

_ENCODED = re.compile(r"\$2([abyz]?)\$([0-9]{2})\$([./A-Za-z0-9]{53})")
_MIN_COST = 4  # the algorithm's own minimum


@dataclass(frozen=True)
class BcryptHash:
    cost: int
    as_2b: bytes


def parse_bcrypt(encoded: str) -> BcryptHash:
    _minor, cost, rest = match_or_reject(_ENCODED, encoded, "bcrypt").groups()
    checked = bounds.check_range("bcrypt cost", int(cost), _MIN_COST, bounds.BCRYPT_MAX_COST)
    return BcryptHash(cost=checked, as_2b=f"$2b${cost}${rest}".encode("ascii"))


def verify_bcrypt(password: bytes, stored: BcryptHash) -> bool:
    if len(password) > BCRYPT_MAX_PASSWORD_BYTES:
        return False
    try:
        return bcrypt.checkpw(password, stored.as_2b)
    except ValueError:  # a salt the library rejects
        return False


def hash_bcrypt(password: bytes, *, cost: int) -> str:
    if len(password) > BCRYPT_MAX_PASSWORD_BYTES:
        raise PasswordTooLong()
    # `$2a$` like Kratos (Go's bcrypt), so hashes look the same whichever server wrote them.
    return bcrypt.hashpw(password, bcrypt.gensalt(rounds=cost, prefix=b"2a")).decode("ascii")


BCRYPT = HashFamily("bcrypt", re.compile(r"\$2[abzy]?\$"), parse_bcrypt, verify_bcrypt)
