"""Parsers of untrusted input fail only the way they say they do (checklist IN-6), shown with
Hypothesis on arbitrary input and on valid input edited:

- an imported password hash is accepted or refused with `InvalidImportedHash`, never another error;
  an accepted one declares no cost or length outside `hashing/bounds.py`, and one cheap enough to
  try is checked at login without an error;
- identifier normalisation never raises, gives the same result when applied again, and `e164` gives
  None or an E.164 number;
- the session cookie never raises on any value, opens to the token and expiry it was signed with,
  and does not open once any one character is changed;
- a JSON request body is read as the standard library reads it, or refused with `BadRequest`, and
  nothing it yields holds a NUL or a lone surrogate, whatever its encoding or nesting;
- a TOTP URL gives a TOTP Warden can honour, or `UnusableTotpUrl`;
- a duration or byte size gives its value, or a `ValueError` that says what was expected.

Each test is derandomised, so a run is repeatable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import json
import re
import string
import warnings
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from argon2.low_level import Type, hash_secret
from hypothesis import given, note, settings
from hypothesis import strategies as st

from services.identity.hashing import InvalidImportedHash, bounds, validate_imported_hash, verify_any
from services.identity.hashing.argon2_hashes import Argon2Hash, hash_argon2id
from services.identity.hashing.bcrypt_hashes import BcryptHash, hash_bcrypt
from services.identity.hashing.comparator import family_of
from services.identity.hashing.crypt_hashes import CryptHash
from services.identity.hashing.digest_hashes import DigestHash
from services.identity.hashing.pbkdf2_hashes import Pbkdf2Hash
from services.identity.hashing.scrypt_hashes import ScryptHash
from services.identity.schemas.normalize import e164, graceful, normalize_email, normalize_phone
from services.session.tokens import TOKEN_PREFIX
from shared.cookies import CookieSigner, SignedCookie, cookie_value
from shared.errors import BadRequest
from shared.http.bodies import parse_json
from shared.totp import UnusableTotpUrl, parse_totp
from shared.units import format_byte_size, format_duration, parse_byte_size, parse_duration

FAST = settings(derandomize=True, deadline=None, max_examples=300)
FEW = settings(derandomize=True, deadline=None, max_examples=100)

# Lone surrogates (what aiohttp makes of bytes that are not UTF-8, and what JSON's "\ud800" decodes
# to), NUL and invisible characters are rare in Hypothesis's own choice of characters.
_ODD = "\x00\ud800\udbff\udc80\udfff\ufeff\u200b\u00ad"
ANY_CHAR = st.one_of(st.sampled_from(_ODD), st.characters(exclude_categories=()))
ANY_TEXT = st.text(ANY_CHAR)


def _edited(text: str, inserts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """`text` with one to three runs of up to three characters replaced, deleted or inserted."""

    @st.composite
    def edit(draw: st.DrawFn) -> str:
        edited = text
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, len(edited)))
            edited = edited[:at] + draw(inserts) + edited[at + draw(st.integers(0, 3)) :]
        return edited

    return edit()


# --- imported password hashes -----------------------------------------------------------------------

PASSWORD = b"correct horse"
SALT = b"pepper&salt-0123"
SALTED = b"{SALT}{PASSWORD}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _crypt(setting: str) -> str:
    """crypt(3), as `crypt_hashes` finds it: `crypt_r` (Python 3.13+) or the deprecated `crypt`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            crypt = importlib.import_module("crypt_r")
        except ImportError:
            crypt = importlib.import_module("crypt")
    return crypt.crypt(PASSWORD.decode(), setting)


def _valid_hashes() -> dict[str, str]:
    """One hash of `PASSWORD` per family, made by the project's own hashers or as tests/unit/test_hashing.py
    makes them, at costs low enough to verify many times."""
    hashes = {
        "argon2id": hash_argon2id(PASSWORD, memory_kib=64, iterations=1, parallelism=1, salt_length=16, key_length=16),
        "argon2i": hash_secret(
            PASSWORD, SALT, time_cost=1, memory_cost=64, parallelism=1, hash_len=16, type=Type.I
        ).decode(),
        "bcrypt": hash_bcrypt(PASSWORD, cost=4),
        "pbkdf2": "$pbkdf2-sha256$i=1000,l=32${}${}".format(
            _b64(SALT).rstrip("="), _b64(hashlib.pbkdf2_hmac("sha256", PASSWORD, SALT, 1000, 32)).rstrip("=")
        ),
        "scrypt": f"$scrypt$ln=16,r=8,p=1${_b64(SALT)}${_b64(hashlib.scrypt(PASSWORD, salt=SALT, n=16, r=8, p=1))}",
        "ssha": "{SSHA256}" + _b64(hashlib.sha256(PASSWORD + SALT).digest() + SALT),
        "sha": f"$sha512$pf={_b64(SALTED)}${_b64(SALT)}${_b64(hashlib.sha512(SALT + PASSWORD).digest())}",
        "md5": f"$md5${_b64(hashlib.md5(PASSWORD).digest())}",
        "md5 salted": f"$md5$pf={_b64(SALTED)}${_b64(SALT)}${_b64(hashlib.md5(SALT + PASSWORD).digest())}",
        "hmac": f"$hmac-sha256${_b64(hmac.new(b'key', PASSWORD, 'sha256').hexdigest().encode())}${_b64(b'key')}",
        "md5-crypt": "$md5-crypt" + _crypt("$1$saltsalt$")[2:],
        "sha256-crypt": "$sha256-crypt" + _crypt("$5$rounds=1000$saltsaltsaltsalt$")[2:],
        "sha512-crypt": "$sha512-crypt" + _crypt("$6$rounds=1000$saltsalt$")[2:],
    }
    # Firebase's published vector (its scrypt README), password "user1password": not made here.
    hashes["firescrypt"] = (
        "$firescrypt$ln=14,r=8,p=1$42xEC+ixf3L2lw==$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoI"
        "tz+VHjoZilo78198JAdRuid5lQ==$Bw==$jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmY"
        "USDzZvpjeJ9WmXA=="
    )
    return hashes


VALID_HASHES = _valid_hashes()
PREFIXES = ["", "{SSHA}", "{SSHA512}", "$2$", "$2y$10$", "$hmac-md4$", "$hmac-sha1$", "$pbkdf2-sha999$"] + [
    encoded[: encoded.index("$", 1) + 1] for encoded in VALID_HASHES.values() if encoded.startswith("$")
]

# Numbers and lengths at and beside every bound, where an off-by-one would show.
_BOUNDS = {value for name, value in vars(bounds).items() if name.isupper() and isinstance(value, int)}
_EDGES = _BOUNDS | {1, 2, 4, 19, 1000, 1 << 17, 1 << 20, 1 << 31, 1 << 32}
NEAR_BOUNDS = sorted({edge + step for edge in _EDGES for step in (-1, 0, 1) if edge + step >= 0})
NUMBERS = st.one_of(  # at most 10 digits, as the formats allow; of any magnitude, not mostly huge
    st.sampled_from(NEAR_BOUNDS),
    st.integers(1, 10).flatmap(lambda digits: st.integers(10 ** (digits - 1) - 1, 10**digits - 1)),
)
BLOB_LENGTHS = st.one_of(
    st.integers(0, 80), st.sampled_from([n for n in NEAR_BOUNDS if n <= 1600]), st.integers(0, 1600)
)
_CRYPT_ALPHABET = "./" + string.digits + string.ascii_letters
_RAW_BASE64 = {"argon2id", "argon2i", "pbkdf2"}
_CRYPT_TEXT = {"bcrypt", "md5-crypt", "sha256-crypt", "sha512-crypt"}


def _fields(family: str) -> tuple[list[str], list[int]]:
    """The family's valid hash split at `$` and `,`, and which pieces are fields (all but the name)."""
    pieces = re.split(r"([$,])", VALID_HASHES[family])
    name_piece = 2 if pieces[0] == "" else -1  # `$argon2id$...`; `{SSHA256}...` has no name piece
    return pieces, [i for i in range(0, len(pieces), 2) if pieces[i] and i != name_piece]


def _prefix_and_value(piece: str) -> tuple[str, str]:
    """`m=65536` -> (`m=`, `65536`); `{SSHA256}c2Fs...` -> (`{SSHA256}`, `c2Fs...`); `c2Fs` -> (``, `c2Fs`)."""
    found = re.fullmatch(r"(\{[A-Z0-9]+\}|[a-z]+=)?(.*)", piece, re.S)
    assert found is not None  # `(.*)` matches anything
    return found[1] or "", found[2]


def _is_number(piece: str) -> bool:
    return _prefix_and_value(piece)[1].isdigit()


def _with_number(piece: str, number: int) -> str:
    prefix, value = _prefix_and_value(piece)
    return prefix + str(number).zfill(len(value))  # bcrypt's cost has two digits


def _with_blob(piece: str, family: str, data: bytes) -> str:
    prefix = _prefix_and_value(piece)[0]
    if family in _CRYPT_TEXT:
        return prefix + "".join(_CRYPT_ALPHABET[byte % 64] for byte in data)
    encoded = _b64(data)
    return prefix + (encoded.rstrip("=") if family in _RAW_BASE64 else encoded)


@st.composite
def with_fields_replaced(draw: st.DrawFn, family: str) -> str:
    """The family's valid hash with one or two of its fields (a number such as `m=` or `rounds=`,
    or a salt, key or digest) replaced by another number, or by encoded bytes of another length.
    The blobs of one example share a length, so that a format tying two lengths together
    (firescrypt's hash and signer key) can still parse with both changed."""
    pieces, fields = _fields(family)
    length = draw(BLOB_LENGTHS)
    chunk = draw(st.binary(min_size=1, max_size=16))
    for i in draw(st.lists(st.sampled_from(fields), min_size=1, max_size=2, unique=True)):
        if _is_number(pieces[i]):
            pieces[i] = _with_number(pieces[i], draw(NUMBERS))
        else:
            pieces[i] = _with_blob(pieces[i], family, (chunk * length)[:length])
    return "".join(pieces)


def _rounds(parsed: CryptHash) -> int:
    found = re.match(r"\$[56]\$rounds=([0-9]+)\$", parsed.setting)
    return int(found[1]) if found else 5000  # crypt(3)'s default


def _assert_within_bounds(parsed: object) -> None:
    match parsed:
        case Argon2Hash():
            assert 1 <= parsed.parallelism <= bounds.ARGON2_MAX_PARALLELISM
            assert 8 * parsed.parallelism <= parsed.memory_kib <= bounds.ARGON2_MAX_MEMORY_KIB
            assert 1 <= parsed.iterations <= bounds.ARGON2_MAX_ITERATIONS
            assert bounds.ARGON2_MIN_SALT <= len(parsed.salt) <= bounds.MAX_SALT
            assert bounds.MIN_DERIVED_KEY <= len(parsed.key) <= bounds.MAX_DERIVED_KEY
        case BcryptHash():
            assert 4 <= parsed.cost <= bounds.BCRYPT_MAX_COST
            assert parsed.as_2b.startswith(b"$2b$%02d$" % parsed.cost), "bcrypt must run at the cost checked"
        case Pbkdf2Hash():
            assert 1 <= parsed.iterations <= bounds.PBKDF2_MAX_ITERATIONS
            assert len(parsed.salt) <= bounds.MAX_SALT
            assert bounds.MIN_DERIVED_KEY <= len(parsed.key) <= bounds.PBKDF2_MAX_KEY
        case ScryptHash():
            assert 2 <= parsed.n <= bounds.SCRYPT_MAX_N and parsed.n & (parsed.n - 1) == 0
            assert 1 <= parsed.r <= bounds.SCRYPT_MAX_R and 1 <= parsed.p <= bounds.SCRYPT_MAX_P
            assert len(parsed.salt) <= bounds.MAX_SALT, f"a {len(parsed.salt)}-byte salt"
            assert bounds.MIN_DERIVED_KEY <= len(parsed.key) <= bounds.MAX_DERIVED_KEY, f"a {len(parsed.key)}-byte key"
        case CryptHash():
            assert 1000 <= _rounds(parsed) <= bounds.SHA_CRYPT_MAX_ROUNDS
        case DigestHash():
            size = hashlib.new(parsed.algorithm).digest_size
            assert len(parsed.digest) == (2 * size if parsed.key is not None else size)
            assert len(parsed.salt) <= bounds.MAX_SALT and len(parsed.key or b"") <= bounds.MAX_SALT
        case _:
            pytest.fail(f"a parser returned {type(parsed).__name__}, which this test does not know")


def _cheap(parsed: object) -> bool:
    """Whether checking a password against it takes a few milliseconds at most."""
    match parsed:
        case Argon2Hash():
            return parsed.memory_kib * parsed.iterations <= 1 << 13
        case BcryptHash():
            return parsed.cost <= 6
        case Pbkdf2Hash():
            return parsed.iterations <= 20_000
        case ScryptHash():
            return parsed.n * parsed.r * parsed.p <= 1 << 15
        case CryptHash():
            return _rounds(parsed) <= 20_000
    return True


def _assert_refused_or_within_bounds(encoded: str, password: str) -> None:
    try:
        validate_imported_hash(encoded)
    except InvalidImportedHash:
        assert verify_any(password, encoded) is False
        return
    parsed = family_of(encoded).parse(encoded)
    _assert_within_bounds(parsed)
    if _cheap(parsed):
        assert isinstance(verify_any(password, encoded), bool)


def test_the_valid_hashes_edited_below_are_valid() -> None:
    for family, encoded in VALID_HASHES.items():
        password = "user1password" if family == "firescrypt" else PASSWORD.decode()
        validate_imported_hash(encoded)
        assert verify_any(password, encoded), family


@FAST
@given(st.sampled_from(PREFIXES), ANY_TEXT, st.text(max_size=8))
def test_any_text_is_refused_or_accepted_within_bounds(prefix: str, rest: str, password: str) -> None:
    note(f"hash: {prefix + rest!r}")  # Hypothesis's own report of the arguments is blank under pytest 9
    _assert_refused_or_within_bounds(prefix + rest, password)


_HASH_INSERTS = st.text(st.one_of(st.sampled_from("$=,.+/{}0123456789aA"), ANY_CHAR), max_size=3)


@FAST
@given(st.sampled_from(sorted(VALID_HASHES)).flatmap(lambda f: _edited(VALID_HASHES[f], _HASH_INSERTS)))
def test_a_valid_hash_with_characters_edited_is_refused_or_within_bounds(encoded: str) -> None:
    note(f"hash: {encoded!r}")
    _assert_refused_or_within_bounds(encoded, "x")


@pytest.mark.parametrize("family", sorted(VALID_HASHES))
def test_a_valid_hash_with_fields_replaced_is_refused_or_within_bounds(family: str) -> None:
    @FEW
    @given(with_fields_replaced(family))
    def check(encoded: str) -> None:
        note(f"hash: {encoded!r}")
        _assert_refused_or_within_bounds(encoded, "x")

    check()


@pytest.mark.parametrize("family", sorted(VALID_HASHES))
def test_each_number_of_a_valid_hash_set_at_or_beside_each_bound_is_refused_or_within_bounds(family: str) -> None:
    # Every value, not a sample: one number off by one is what a changed bound looks like.
    pieces, fields = _fields(family)
    failures = []
    for i in filter(lambda i: _is_number(pieces[i]), fields):
        for number in filter(lambda n: n < 10**10, NEAR_BOUNDS):
            encoded = "".join([*pieces[:i], _with_number(pieces[i], number), *pieces[i + 1 :]])
            try:
                _assert_refused_or_within_bounds(encoded, "x")
            except Exception as failed:
                failures.append(f"{encoded}: {failed!r}")
    assert not failures, "\n".join(failures)


# --- identifiers ------------------------------------------------------------------------------------

# Phone numbers as typed: digits in groups between separators, one character perhaps typed fullwidth.
PHONE_NUMBERS = st.builds(
    lambda sign, groups, separator, wide: (
        sign + separator.join(groups) if wide is None else _widen(sign + separator.join(groups), wide)
    ),
    st.sampled_from(["+", "", " +"]),
    st.lists(st.text(string.digits, min_size=1, max_size=4), min_size=1, max_size=5),
    st.sampled_from(["", " ", "-", ".", "/", " (0) ", "\u00a0", "\u3000", "\u200b"]),
    st.none() | st.integers(0, 30),
)


def _widen(number: str, at: int) -> str:
    """`number` with its character at `at` (modulo its length) typed fullwidth: "+" as "＋", "1" as "１"."""
    at %= len(number)
    char = number[at]
    return number[:at] + (chr(ord(char) + 0xFEE0) if char in "+" + string.digits else char) + number[at + 1 :]


IDENTIFIERS = st.one_of(ANY_TEXT, PHONE_NUMBERS, st.builds("{}@{}".format, ANY_TEXT, ANY_TEXT))


@FAST
@given(IDENTIFIERS)
def test_normalising_an_identifier_never_raises_and_a_second_time_changes_nothing(value: str) -> None:
    for normalise in (graceful, normalize_email, normalize_phone):
        once = normalise(value)
        assert normalise(once) == once, f"{normalise.__name__}: {value!r} -> {once!r} -> {normalise(once)!r}"


@FAST
@given(IDENTIFIERS)
def test_e164_is_none_or_an_international_number(value: str) -> None:
    number = e164(value)
    assert number is None or (re.fullmatch(r"\+[1-9][0-9]{6,14}", number) and e164(number) == number)


# --- the session cookie -----------------------------------------------------------------------------

SIGNER = CookieSigner(["first-cookie-secret-0123456789", "older-cookie-secret-0123456789"])
OLDER = CookieSigner(["older-cookie-secret-0123456789"])
TOKENS = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=64).map(TOKEN_PREFIX.__add__)
EXPIRIES = st.none() | st.integers(min_value=0)
# What a browser sends back in a cookie (RFC 6265 cookie-octets): printable ASCII but `"`, `,`, `;`, `\`.
COOKIE_OCTETS = "".join(c for c in string.printable if c not in ' ",;\\' and c.isprintable())


@FAST
@given(st.one_of(ANY_TEXT, st.lists(ANY_TEXT, min_size=2, max_size=4).map(".".join)))
def test_any_cookie_value_opens_to_nothing_without_raising(value: str) -> None:
    note(f"cookie: {value!r}")
    # aiohttp decodes a header's bytes as UTF-8, keeping invalid ones as lone surrogates.
    assert SIGNER.open(value) is None
    assert SIGNER.verify(value) is None


@FAST
@given(TOKENS, EXPIRIES)
def test_a_signed_token_opens_to_itself_and_its_expiry(token: str, expires_at: int | None) -> None:
    for signer in (SIGNER, OLDER):
        value = signer.sign(token, expires_at)
        assert SIGNER.open(value) == SignedCookie(token, expires_at)
        assert cookie_value(f"other=1; ory_kratos_session={value}; ory_kratos_session=x", "ory_kratos_session") == value


@FAST
@given(TOKENS, EXPIRIES, st.data())
def test_a_cookie_changed_in_any_one_character_does_not_open(
    token: str, expires_at: int | None, data: st.DataObject
) -> None:
    value = SIGNER.sign(token, expires_at)
    at = data.draw(st.integers(0, len(value) - 1))
    # Cookie octets only: other characters are the concern of the test above.
    char = data.draw(st.sampled_from(COOKIE_OCTETS).filter(lambda c: c != value[at]))
    assert SIGNER.open(value[:at] + char + value[at + 1 :]) is None


@FAST
@given(ANY_TEXT, ANY_TEXT)
def test_reading_a_cookie_from_any_header_never_raises(header: str, name: str) -> None:
    note(f"header: {header!r}, name: {name!r}")
    found = cookie_value(header, name)
    assert found is None or found in header


# --- JSON request bodies ----------------------------------------------------------------------------

JSON_TEXT = st.text(st.one_of(st.sampled_from("\x00\ud800\udfff\udc80"), st.characters(exclude_categories=())))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | JSON_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(JSON_TEXT, children, max_size=4),
    max_leaves=12,
)
# Encodings the standard library's `json.loads` detects in bytes.
ENCODINGS = ["utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]


def _storable(value: Any) -> bool:
    """No NUL and no lone surrogate in any string, keys included (iterative: bodies nest deep)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str) and ("\x00" in item or any("\ud800" <= c <= "\udfff" for c in item)):
            return False
        if isinstance(item, dict):
            pending.extend([*item, *item.values()])
        elif isinstance(item, list):
            pending.extend(item)
    return True


def _assert_read_or_refused(raw: bytes, *, like_the_standard_library: bool = True) -> None:
    note(f"body: {raw!r}")
    try:
        value = parse_json(raw)
    except BadRequest:
        return
    if like_the_standard_library:
        assert value == json.loads(raw or b"null")  # an empty body is read as null
    assert _storable(value), f"{raw!r} gave {value!r}"


@FAST
@given(st.binary())
def test_any_body_is_read_or_refused_with_bad_request(raw: bytes) -> None:
    _assert_read_or_refused(raw)


@FAST
@given(JSON_VALUES)
def test_json_is_read_as_the_standard_library_reads_it_unless_it_holds_nul_or_a_lone_surrogate(value: Any) -> None:
    raw = json.dumps(value).encode()
    expected = json.loads(raw)
    if _storable(expected):
        assert parse_json(raw) == expected
    else:
        with pytest.raises(BadRequest):
            parse_json(raw)


@FAST
@given(JSON_VALUES, st.booleans(), st.sampled_from(ENCODINGS))
def test_json_in_any_encoding_the_reader_takes_yields_nothing_unstorable(
    value: Any, ensure_ascii: bool, encoding: str
) -> None:
    raw = json.dumps(value, ensure_ascii=ensure_ascii).encode(encoding, "surrogatepass")
    _assert_read_or_refused(raw)


@FEW
@given(st.integers(0, 1100), st.sampled_from(["[", '{"a":']))
def test_json_nested_to_any_depth_is_read_or_refused_with_bad_request(depth: int, opening: str) -> None:
    closing = "]" if opening == "[" else "}"
    raw = (opening * depth + '"caf\\u00e9"' + closing * depth).encode()  # an escape: the body is walked
    # Not compared with `json.loads`, whose recursion limit is below orjson's depth limit (1024).
    _assert_read_or_refused(raw, like_the_standard_library=False)


# --- TOTP URLs --------------------------------------------------------------------------------------

TOTP_URL = (
    "otpauth://totp/Warden:alice%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    "&issuer=Warden&algorithm=SHA256&digits=8&period=30"
)
_TOTP_PARAMETERS = {
    "secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
    "issuer": "Warden",
    "algorithm": "SHA256",
    "digits": "8",
    "period": "30",
    "counter": "1",
    "encoder": "steam",
    "image": "https://example.com/a.png",
}
_TOTP_VALUES = st.one_of(
    st.sampled_from(["", "SHA1", "SHA512", "MD5", "sha256", "steam", "0", "6", "9", "121", "1_0", "٦", "JBSWY3DP"]),
    st.integers(-(10**6), 10**6).map(str),
    ANY_TEXT,
)


@st.composite
def totp_urls(draw: st.DrawFn) -> str:
    """An otpauth URL of any type and label, with any of pyotp's parameters left out, given as in
    TOTP_URL, or given another value, and perhaps one given twice."""
    kind = draw(st.sampled_from(["totp", "hotp", "TOTP", "", "x"]))
    label = draw(st.sampled_from(["Warden:alice", "alice", "", ":", "Other:alice", "a%3Ab"]))
    parameters = []
    for key, usual in _TOTP_PARAMETERS.items():
        value = draw(st.sampled_from(["usual", "other", "left out"]))
        if value != "left out":
            parameters.append(f"{key}={usual if value == 'usual' else draw(_TOTP_VALUES)}")
    if parameters and draw(st.booleans()):
        parameters.append(draw(st.sampled_from(parameters)))
    return f"otpauth://{kind}/{label}?" + "&".join(draw(st.permutations(parameters)))


TOTP_URLS = st.one_of(
    ANY_TEXT,
    st.builds("otpauth://totp/{}".format, ANY_TEXT),
    _edited(TOTP_URL, st.text(st.one_of(st.sampled_from("&=?:/%0123456789"), ANY_CHAR), max_size=3)),
    totp_urls(),
)


@FAST
@given(TOTP_URLS)
def test_a_totp_url_is_usable_or_refused_as_unusable(url: str) -> None:
    note(f"url: {url!r}")
    try:
        totp = parse_totp(url)
    except UnusableTotpUrl:
        return
    assert type(totp) is pyotp.TOTP
    assert 6 <= totp.digits <= 8 and 0 < totp.interval <= 120
    assert totp.digest().name in {"sha1", "sha256", "sha512"}
    assert len(totp.byte_secret()) * 8 >= 112
    code = totp.now()
    assert len(code) == totp.digits and code.isdigit()


def test_the_totp_url_edited_above_is_usable() -> None:
    assert parse_totp(TOTP_URL).digits == 8


# --- durations and byte sizes -----------------------------------------------------------------------

_UNITS = ["ns", "us", "ms", "s", "m", "h"]
GO_DURATIONS = st.lists(
    st.builds("{}{}".format, st.integers(0, 10**15 - 1), st.sampled_from(_UNITS)), min_size=1, max_size=4
).map("".join)
SIZES = st.builds("{}{}".format, st.integers(0, 10**20 - 1), st.sampled_from(["B", "KB", "MB", "GB", "TB", "PB", "EB"]))
OTHER_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers().map(str), st.floats(), st.lists(st.text(), max_size=2)
)


@FAST
@given(st.one_of(ANY_TEXT, GO_DURATIONS, GO_DURATIONS.map(" {}\n".format), OTHER_VALUES))
def test_any_duration_is_read_or_refused_with_value_error(value: object) -> None:
    note(f"duration: {value!r}")
    try:
        assert isinstance(parse_duration(value), timedelta)
    except ValueError as refused:
        assert "must be a duration" in str(refused)


@FAST
@given(st.one_of(ANY_TEXT, SIZES, SIZES.map(" {}\n".format), OTHER_VALUES))
def test_any_byte_size_is_read_or_refused_with_value_error(value: object) -> None:
    note(f"size: {value!r}")
    try:
        assert parse_byte_size(value) >= 0
    except ValueError as refused:
        assert "must be a size" in str(refused)


@FAST
@given(st.integers(0, 10**12), st.integers(0, 2**63 - 1))
def test_what_is_formatted_reads_back(milliseconds: int, size: int) -> None:
    assert parse_duration(format_duration(milliseconds / 1000)) == timedelta(milliseconds=milliseconds)
    assert parse_byte_size(format_byte_size(size)) == size
