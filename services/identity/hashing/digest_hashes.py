"""Plain digests, salted or keyed, as Kratos encodes them (parts in padded base64):

- `{SSHA}`, `{SSHA256}`, `{SSHA512}` + base64(digest(password + salt) + salt)  (LDAP)
- `$sha1|sha256|sha512$pf=<format>$<salt>$<digest>`, where the format says how salt and password
  are joined, e.g. `{SALT}{PASSWORD}`; each placeholder is replaced once, in one pass (Go's
  `strings.Replacer`), so a salt that contains `{PASSWORD}` stays as it is
- `$md5$<digest>` and `$md5$pf=<format>$<salt>$<digest>`
- `$hmac-<digest>$<base64 of the lowercase hex MAC>$<key>`

Stricter than Kratos: a format without `{PASSWORD}` is refused (every password would match it),
digests must have their algorithm's length, and `hmac-md4` is refused (OpenSSL 3, which Python's
hashlib uses, has no MD4 unless its legacy provider is loaded).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from . import bounds
from .encoding import b64_std, b64_std_strict, same
from .errors import InvalidImportedHash
from .family import HashFamily, match_or_reject

_SIZES = {"md5": 16, "sha1": 20, "sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64}
_SSHA_DIGESTS = {"SSHA": "sha1", "SSHA256": "sha256", "SSHA512": "sha512"}

_SSHA = re.compile(r"\{(SSHA|SSHA256|SSHA512)\}([^$]*)")
_SHA = re.compile(r"\$(sha1|sha256|sha512)\$pf=([^$]+)\$([^$]*)\$([^$]*)")
_MD5_PLAIN = re.compile(r"\$md5\$([^$]*)")
_MD5_SALTED = re.compile(r"\$md5\$pf=([^$]+)\$([^$]*)\$([^$]*)")
_HMAC = re.compile(r"\$hmac-(md5|sha1|sha224|sha256|sha384|sha512)\$([^$]*)\$([^$]*)")
_PLACEHOLDER = re.compile(rb"\{SALT\}|\{PASSWORD\}")


@dataclass(frozen=True)
class DigestHash:
    algorithm: str
    digest: bytes
    salt: bytes = b""
    template: bytes | None = None  # the `pf` format; None: digest of salt-less or SSHA input
    key: bytes | None = None  # HMAC only


def parse_ssha(encoded: str) -> DigestHash:
    scheme, payload = match_or_reject(_SSHA, encoded, "SSHA").groups()
    algorithm = _SSHA_DIGESTS[scheme]
    size = _SIZES[algorithm]
    decoded = b64_std(payload, "SSHA payload")
    bounds.check_length("SSHA salt", decoded[size:], 1, bounds.MAX_SALT)
    return DigestHash(algorithm, digest=decoded[:size], salt=decoded[size:])


def parse_sha(encoded: str) -> DigestHash:
    algorithm, template, salt, digest = match_or_reject(_SHA, encoded, "sha").groups()
    return _salted(algorithm, template, salt, digest)


def parse_md5(encoded: str) -> DigestHash:
    salted = _MD5_SALTED.fullmatch(encoded)
    if salted:
        return _salted("md5", *salted.groups())
    (digest,) = match_or_reject(_MD5_PLAIN, encoded, "md5").groups()
    return DigestHash("md5", digest=_digest("md5", digest))


def parse_hmac(encoded: str) -> DigestHash:
    if encoded.startswith("$hmac-md4$"):
        raise InvalidImportedHash("hmac-md4 is not supported: this OpenSSL has no MD4")
    algorithm, mac_hex, key = match_or_reject(_HMAC, encoded, "hmac").groups()
    mac = b64_std_strict(mac_hex, "hmac hash")
    if len(mac) != 2 * _SIZES[algorithm] or mac.strip(b"0123456789abcdef"):
        raise InvalidImportedHash(f"hmac-{algorithm} hash is not the MAC in lowercase hex")
    secret = bounds.check_length("hmac key", b64_std_strict(key, "hmac key"), 0, bounds.MAX_SALT)
    return DigestHash(algorithm, digest=mac, key=secret)


def verify_digest(password: bytes, stored: DigestHash) -> bool:
    if stored.key is not None:
        mac = hmac.new(stored.key, password, stored.algorithm).hexdigest().encode("ascii")
        return same(mac, stored.digest)
    if stored.template is None:
        message = password + stored.salt
    else:
        message = _PLACEHOLDER.sub(lambda m: stored.salt if m[0] == b"{SALT}" else password, stored.template)
    return same(hashlib.new(stored.algorithm, message).digest(), stored.digest)


def _salted(algorithm: str, template: str, salt: str, digest: str) -> DigestHash:
    fmt = b64_std_strict(template, f"{algorithm} pf")
    if b"{PASSWORD}" not in fmt:
        raise InvalidImportedHash(f"{algorithm} pf has no {{PASSWORD}}: every password would match")
    return DigestHash(
        algorithm,
        digest=_digest(algorithm, digest),
        salt=bounds.check_length(f"{algorithm} salt", b64_std_strict(salt, f"{algorithm} salt"), 0, bounds.MAX_SALT),
        template=fmt,
    )


def _digest(algorithm: str, text: str) -> bytes:
    decoded = b64_std_strict(text, f"{algorithm} hash")
    if len(decoded) != _SIZES[algorithm]:
        raise InvalidImportedHash(f"{algorithm} hash is {len(decoded)} bytes, not {_SIZES[algorithm]}")
    return decoded


SSHA = HashFamily("ssha", re.compile(r"\{SSHA(256|512)?\}"), parse_ssha, verify_digest)
SHA = HashFamily("sha", re.compile(r"\$sha(1|256|512)\$"), parse_sha, verify_digest)
MD5 = HashFamily("md5", re.compile(r"\$md5\$"), parse_md5, verify_digest)
HMAC = HashFamily("hmac", re.compile(r"\$hmac-(md4|md5|sha1|sha224|sha256|sha384|sha512)\$"), parse_hmac, verify_digest)
