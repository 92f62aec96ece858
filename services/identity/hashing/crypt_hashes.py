"""md5-crypt, sha256-crypt and sha512-crypt, which Kratos takes as `$md5-crypt$<salt>$<hash>` and
`$sha256-crypt$[rounds=<n>$]<salt>$<hash>` / `$sha512-crypt$...` and checks as crypt(3)'s `$1$`,
`$5$` and `$6$`.

They are computed by the C library's crypt(3) through Python's `crypt` module (standard library up
to Python 3.12, deprecated there) or, when installed, `crypt_r` (the same module, packaged for
Python 3.13+ where the standard one is gone). Without either, these formats are refused at import
and never match. Neither module releases the GIL, hence the tight bound on rounds.
"""

from __future__ import annotations

import importlib
import re
import warnings
from dataclasses import dataclass
from types import ModuleType

from . import bounds
from .encoding import same
from .errors import InvalidImportedHash
from .family import HashFamily, match_or_reject


def _load_crypt() -> ModuleType | None:
    for name in ("crypt_r", "crypt"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                return importlib.import_module(name)
        except ImportError:
            continue
    return None


_CRYPT = _load_crypt()

_B64 = "[./0-9A-Za-z]"
_MD5_CRYPT = re.compile(rf"\$md5-crypt\$({_B64}{{0,8}}\${_B64}{{22}})")
_SHA_CRYPT = re.compile(rf"\$(sha256|sha512)-crypt\$(?:rounds=([0-9]{{1,10}})\$)?({_B64}{{0,16}}\$({_B64}+))")
_SHA_IDS = {"sha256": ("5", 43), "sha512": ("6", 86)}
_MIN_ROUNDS = 1000  # the spec's minimum: crypt(3) refuses or raises smaller values, so they never match


@dataclass(frozen=True)
class CryptHash:
    setting: str  # the hash as crypt(3) writes it, e.g. `$6$rounds=656000$salt$hash`


def crypt_available() -> bool:
    return _CRYPT is not None


def parse_md5_crypt(encoded: str) -> CryptHash:
    (rest,) = match_or_reject(_MD5_CRYPT, encoded, "md5-crypt").groups()
    return _supported(CryptHash(f"$1${rest}"), "md5-crypt")


def parse_sha_crypt(encoded: str) -> CryptHash:
    variant, rounds, rest, checksum = match_or_reject(_SHA_CRYPT, encoded, "sha-crypt").groups()
    crypt_id, checksum_length = _SHA_IDS[variant]
    if len(checksum) != checksum_length:
        raise InvalidImportedHash(f"malformed {variant}-crypt hash")
    prefix = f"${crypt_id}$"
    if rounds is not None:
        bounds.check_range(f"{variant}-crypt rounds", int(rounds), _MIN_ROUNDS, bounds.SHA_CRYPT_MAX_ROUNDS)
        prefix += f"rounds={rounds}$"
    return _supported(CryptHash(prefix + rest), f"{variant}-crypt")


def verify_crypt(password: bytes, stored: CryptHash) -> bool:
    if _CRYPT is None:
        return False
    try:
        computed = _CRYPT.crypt(password.decode("utf-8", "surrogatepass"), stored.setting)
    except (ValueError, UnicodeError):  # NUL bytes or lone surrogates, which crypt(3) cannot take
        return False
    return computed is not None and same(computed.encode("ascii", "replace"), stored.setting.encode("ascii"))


def _supported(parsed: CryptHash, name: str) -> CryptHash:
    if _CRYPT is None:
        raise InvalidImportedHash(f"{name} needs crypt(3): install crypt-r on Python 3.13+")
    return parsed


MD5_CRYPT = HashFamily("md5-crypt", re.compile(r"\$md5-crypt\$"), parse_md5_crypt, verify_crypt)
SHA256_CRYPT = HashFamily("sha256-crypt", re.compile(r"\$sha256-crypt\$"), parse_sha_crypt, verify_crypt)
SHA512_CRYPT = HashFamily("sha512-crypt", re.compile(r"\$sha512-crypt\$"), parse_sha_crypt, verify_crypt)
