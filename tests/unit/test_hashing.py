"""Password hashing: every import format verifies (hashes made here by the real libraries, plus
Kratos's and Firebase's published vectors), bad imports are refused, the configured hasher round
trips and never blocks the event loop, and its config reads Kratos's sizes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import time
import warnings
from itertools import pairwise

import bcrypt
import pytest
from argon2 import PasswordHasher
from argon2.low_level import Type, hash_secret

from services.identity.hashing import (
    UNKNOWN_FORMAT_MESSAGE,
    Hasher,
    InvalidImportedHash,
    PasswordTooLong,
    calibrate_argon2,
    hasher_config_from,
    validate_imported_hash,
    verify_any,
)
from services.identity.hashing.crypt_hashes import crypt_available
from shared.errors import ConfigError, ServiceUnavailable
from shared.http.budget import Budget, budget
from shared.units import format_duration, parse_duration

PASSWORD = "correct horse battery staple ✓"
WRONG = "correct horse battery stapLe ✓"
PW = PASSWORD.encode()
SALT = b"pepper&salt-0123"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64_raw(data: bytes) -> str:
    return b64(data).rstrip("=")


def _bcrypt(prefix: bytes = b"2b") -> str:
    return bcrypt.hashpw(PW, bcrypt.gensalt(rounds=4, prefix=prefix)).decode()


def _pbkdf2(name: str, digest: str) -> str:
    key = hashlib.pbkdf2_hmac(digest, PW, SALT, 1000, 32)
    return f"$pbkdf2-{name}$i=1000,l=32${b64_raw(SALT)}${b64_raw(key)}"


def _sha(name: str, template: bytes) -> str:
    message = template.replace(b"{SALT}", SALT).replace(b"{PASSWORD}", PW)
    return f"${name}$pf={b64(template)}${b64(SALT)}${b64(hashlib.new(name, message).digest())}"


def _ssha(scheme: str, name: str) -> str:
    return "{" + scheme + "}" + b64(hashlib.new(name, PW + SALT).digest() + SALT)


def _hmac(name: str) -> str:
    mac = hmac.new(b"the key", PW, name).hexdigest().encode()
    return f"$hmac-{name}${b64(mac)}${b64(b'the key')}"


def _crypt(kratos_prefix: str, crypt_prefix: str, setting: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    return kratos_prefix + crypt.crypt(PASSWORD, crypt_prefix + setting)[len(crypt_prefix) :]


def made_here() -> dict[str, str]:
    scrypt_key = hashlib.scrypt(PW, salt=SALT, n=16, r=8, p=1, dklen=32)
    hashes = {
        "bcrypt 2b": _bcrypt(),
        "bcrypt 2a": _bcrypt(b"2a"),
        "bcrypt 2y": _bcrypt().replace("$2b$", "$2y$", 1),
        "bcrypt 2z": _bcrypt().replace("$2b$", "$2z$", 1),
        "bcrypt 2": _bcrypt().replace("$2b$", "$2$", 1),
        "argon2id": PasswordHasher(time_cost=1, memory_cost=64, parallelism=1, hash_len=16).hash(PASSWORD),
        "argon2i": hash_secret(PW, SALT, time_cost=2, memory_cost=64, parallelism=2, hash_len=32, type=Type.I).decode(),
        "pbkdf2-sha1": _pbkdf2("sha1", "sha1"),
        "pbkdf2-sha256": _pbkdf2("sha256", "sha256"),
        "pbkdf2-sha512": _pbkdf2("sha512", "sha512"),
        "pbkdf2-sha224 (Kratos: SHA3-224)": _pbkdf2("sha224", "sha3_224"),
        "scrypt (ln is N)": f"$scrypt$ln=16,r=8,p=1${b64(SALT)}${b64(scrypt_key)}",
        "SSHA": _ssha("SSHA", "sha1"),
        "SSHA256": _ssha("SSHA256", "sha256"),
        "SSHA512": _ssha("SSHA512", "sha512"),
        "sha1 salt first": _sha("sha1", b"{SALT}{PASSWORD}"),
        "sha256 with literals": _sha("sha256", b"$${PASSWORD}--{SALT}$"),
        "sha512": _sha("sha512", b"{PASSWORD}{SALT}"),
        "md5": f"$md5${b64(hashlib.md5(PW).digest())}",
        "md5 salted": _sha("md5", b"{SALT}:{PASSWORD}"),
    }
    hashes.update({f"hmac-{name}": _hmac(name) for name in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")})
    if crypt_available():
        hashes["md5-crypt"] = _crypt("$md5-crypt", "$1", "$saltsalt$")
        hashes["sha256-crypt"] = _crypt("$sha256-crypt", "$5", "$rounds=1000$saltsaltsaltsalt$")
        hashes["sha512-crypt"] = _crypt("$sha512-crypt", "$6", "$saltsalt$")
    return hashes


MADE_HERE = made_here()

# Published vectors: Kratos's hash/hash_comparator_test.go and Firebase's scrypt README.
KNOWN = [
    ("test", "$argon2id$v=19$m=32,t=2,p=4$cm94YnRVOW5jZzFzcVE4bQ$MNzk5BtR2vUhrp6qQEjRNw"),
    ("test", "$sha1$pf=e1NBTFR9e1BBU1NXT1JEfQ==$NW9wbWtnejAzcg==$2qU2SGWP8viTM1md3FiI3+rjWXQ="),
    ("test", "$sha256$pf=e1NBTFR9JCR7UEFTU1dPUkR9$NW9wbWtnejAzcg==$HokCOi9OtiZaZRvnkgemV3B4UUHpI7kA8zq/EZWH2NY="),
    ("test", "$md5$CY9rzUYh03PK3k6DJie09g=="),
    ("ory", "$md5$pf=e1BBU1NXT1JEfXtTQUxUfSQ/$MTIzNDU2Nzg5$8PhwWanVRnpJAFK4NUjR0w=="),
    ("test123", "{SSHA}JFZFs0oHzxbMwkSJmYVeI8MnTDy/276a"),
    (
        "test123",
        "{SSHA512}xPUl/px+1cG55rUH4rzcwxdOIPSB2TingLpiJJumN2xyDWN4Ix1WQG3ihnvHaWUE8MYNkvMi5rf0C9NYixHsE6Yh59M=",
    ),
    (
        "test",
        "$hmac-sha256$ZTAzMWJhMWMyOTM4YjFkMjgzZjkxOWExZGY5YWM2NmMxOTJhN2RkNzQ0MzJkNWZkNGFkYTI5OTk0MWJhMTA5Zg==$MTIzNDU=",
    ),
    ("test", "$md5-crypt$TVEiiKNb$SN6/pUaRQS/E8Jh46As2C/"),
    ("test", "$md5-crypt$$whuMjZj.HMFoaTaZRRtkO0"),
    (
        "user1password",
        "$firescrypt$ln=14,r=8,p=1$42xEC+ixf3L2lw==$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==$Bw==$jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==",
    ),
]


@pytest.mark.parametrize("encoded", MADE_HERE.values(), ids=MADE_HERE.keys())
def test_each_import_format_verifies_the_right_password_only(encoded: str) -> None:
    validate_imported_hash(encoded)
    assert verify_any(PASSWORD, encoded)
    assert not verify_any(WRONG, encoded)
    assert not verify_any("", encoded)


@pytest.mark.parametrize("password,encoded", KNOWN, ids=[e.split("$")[1] if "$" in e else e[:6] for _, e in KNOWN])
def test_published_vectors_verify(password: str, encoded: str) -> None:
    if "crypt$" in encoded and not crypt_available():
        pytest.skip("no crypt(3) module on this Python")
    validate_imported_hash(encoded)
    assert verify_any(password, encoded)
    assert not verify_any(password + "!", encoded)


def test_the_crypt_formats_are_available_here() -> None:
    # Python 3.11/3.12 ship `crypt`; on 3.13+ the crypt-r package must be installed.
    assert crypt_available()


def test_a_salt_containing_the_password_placeholder_is_not_expanded() -> None:
    salt = b"{PASSWORD}"
    digest = hashlib.sha1(salt + PW).digest()
    encoded = f"$sha1$pf={b64(b'{SALT}{PASSWORD}')}${b64(salt)}${b64(digest)}"
    assert verify_any(PASSWORD, encoded)


GARBAGE = {
    "empty": "",
    "plaintext": "hunter2",
    "unknown algorithm": "$unknown$12$o6hx.Wog/wvFSkT/Bp/6DOxCtLRTDj7lm9on9suF/WaCGNVHbkfL6",
    "argon2d": "$argon2d$v=19$m=64,t=1,p=1$cm94YnRVOW5jZzFzcVE4bQ$MNzk5BtR2vUhrp6qQEjRNw",
    "argon2 truncated": "$argon2id$v=19$m=64,t=1,p=1$cm94YnRVOW5jZzFzcVE4bQ",
    "argon2 old version": "$argon2id$v=16$m=64,t=1,p=1$cm94YnRVOW5jZzFzcVE4bQ$MNzk5BtR2vUhrp6qQEjRNw",
    "argon2 padded base64": "$argon2id$v=19$m=64,t=1,p=1$cm94YnRVOW5jZzFzcVE4bQ==$MNzk5BtR2vUhrp6qQEjRNw",
    "bcrypt short": "$2a$12$o6hx.Wog/wvFSkT/Bp/6DOxCtLRTDj7lm9on9suF",
    "pbkdf2 unknown digest": "$pbkdf2-sha999$i=1000,l=32$c2FsdHNhbHQ$MNzk5BtR2vUhrp6qQEjRNwMNzk5BtR2vUhrp6qQEjRNw",
    "pbkdf2 capital I": "$pbkdf2-sha512$I=100000,l=32$bdHBpn7OWOivJMVJypy2UqR0UnaD5prQXRZevj/05YU$+wArTfv1a+bNGO1iZrmEdVjhA+lL11wF4/IxpgYfPwc",
    "scrypt N not a power of 2": "$scrypt$ln=16385,r=8,p=1$2npRo7P03Mt8keSoMbyD/tKFWyUzjiQf2svUaNDSrhA=$MiCzNcIplSMqSBrm4HckjYqYhaVPPjTARTzwB1cVNYE=",
    "scrypt bad base64": "$scrypt$ln=16384,r=8,p=1$(2npRo7P03Mt8keSoMbyD/tKFWyUzjiQf2svUaNDSrhA=$MiCzNcIplSMqSBrm4HckjYqYhaVPPjTARTzwB1cVNYE=",
    "SSHA without salt": "{SSHA}" + b64(hashlib.sha1(b"x").digest()),
    "SSHA unknown": "{SSHA384}JFZFs0oHzxbMwkSJmYVeI8MnTDy/276a",
    "sha without format": "$sha1$pf=$NW9wbWtnejAzcg==$2qU2SGWP8viTM1md3FiI3+rjWXQ=",
    "sha format without password": f"$sha1$pf={b64(b'{SALT}')}$NW9wbWtnejAzcg==${b64(hashlib.sha1(b'5opmkgz03r').digest())}",
    "md5 wrong length": "$md5$" + b64(b"short"),
    "hmac missing key": "$hmac-md5$ZmU4Njk3Zjc0MmQwODA0MDVkMTI3MGU2MTYzMzE2Zjk=",
    "hmac-md4 (no MD4 in OpenSSL 3)": "$hmac-md4$MWQ5ZTI4Nzc2Zjg4YmE2MTQ5YjQ0OTMyOGE4NWU4YjA=$MTIzNDU=",
    "md5-crypt without salt part": "$md5-crypt$whuMjZj.HMFoaTaZRRtkO0",
    "far too long": "$md5$" + "A" * 5000,
}

OUT_OF_BOUNDS = {
    "bcrypt cost 20": "$2a$20$abcdefghijklmnopqrstuugn/uitWMnDoOdJaSWqW1pjEXZ8eOSCqK",
    "argon2id 8 GiB": "$argon2id$v=19$m=8388608,t=2,p=4$cm94YnRVOW5jZzFzcVE4bQ$MNzk5BtR2vUhrp6qQEjRNw",
    "argon2i t=1000": "$argon2i$v=19$m=65536,t=1000,p=4$kk51rW/vxIVCYn+EG4kTSg$NyT88uraJ6im6dyha/M5jhXvpqlEdlS/9fEm7ScMb8c",
    "argon2id p=255": "$argon2id$v=19$m=65536,t=2,p=255$cm94YnRVOW5jZzFzcVE4bQ$MNzk5BtR2vUhrp6qQEjRNw",
    "argon2id under 8 KiB a lane": "$argon2id$v=19$m=16,t=2,p=4$cm94YnRVOW5jZzFzcVE4bQ$MNzk5BtR2vUhrp6qQEjRNw",
    "argon2id 4-byte key": "$argon2id$v=19$m=64,t=2,p=1$cm94YnRVOW5jZzFzcVE4bQ$MNzk5A",
    "pbkdf2 i=1e9": "$pbkdf2-sha256$i=1000000000,l=32$1jP+5Zxpxgtee/iPxGgOz0RfE9/KJuDElP1ley4VxXc$QJxzfvdbHYBpydCbHoFg3GJEqMFULwskiuqiJctoYpI",
    "pbkdf2 1 KiB key": f"$pbkdf2-sha1$i=1000,l=1024$c2FsdA${b64_raw(bytes(1024))}",
    "scrypt N=2^21": "$scrypt$ln=2097152,r=8,p=1$c2FsdHNhbHRzYWx0$" + b64(bytes(32)),
    "scrypt r=1024": "$scrypt$ln=16384,r=1024,p=1$c2FsdHNhbHRzYWx0$" + b64(bytes(32)),
    "firescrypt ln=31": "$firescrypt$ln=31,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaA==$Bw==$a2V5a2V5",
    "firescrypt p=1024": "$firescrypt$ln=14,r=8,p=1024$c2FsdHNhbHRzYWx0$aGFzaA==$Bw==$a2V5a2V5",
    "sha512-crypt 10M rounds": "$sha512-crypt$rounds=10000000$3LVbIAVxR//cRajw$" + "a" * 86,
}


@pytest.mark.parametrize("encoded", [*GARBAGE.values(), *OUT_OF_BOUNDS.values()], ids=[*GARBAGE, *OUT_OF_BOUNDS])
def test_bad_imports_are_refused_with_kratos_message_and_never_match(encoded: str) -> None:
    with pytest.raises(ValueError, match=f"^{UNKNOWN_FORMAT_MESSAGE}$") as refused:
        validate_imported_hash(encoded)
    assert isinstance(refused.value, InvalidImportedHash) and refused.value.reason
    started = time.perf_counter()
    assert not verify_any("test", encoded)
    assert time.perf_counter() - started < 0.1  # refused before any hashing


def test_out_of_bounds_reasons_name_the_parameter() -> None:
    with pytest.raises(InvalidImportedHash) as refused:
        validate_imported_hash(OUT_OF_BOUNDS["argon2i t=1000"])
    assert refused.value.reason == "hash parameters exceed allowed bounds: argon2 t=1000 not in [1, 10]"


def test_bcrypt_ignores_nothing_past_72_bytes() -> None:
    long_password = "x" * 72
    encoded = bcrypt.hashpw(long_password.encode(), bcrypt.gensalt(4)).decode()
    assert verify_any(long_password, encoded)
    assert not verify_any(long_password + "y", encoded)  # Kratos refuses > 72 bytes too


# --- the configured hasher -----------------------------------------------------------------------

FAST_ARGON2 = {"algorithm": "argon2", "argon2": {"memory": "64KB", "iterations": 1, "parallelism": 1}}
FAST_BCRYPT = {"algorithm": "bcrypt", "bcrypt": {"cost": 4}}


@pytest.fixture
def make_hasher():
    made: list[Hasher] = []

    def make(raw: dict, **kwargs: int) -> Hasher:
        made.append(Hasher(hasher_config_from(raw, dev=True), **kwargs))
        return made[-1]

    yield make
    for hasher in made:
        hasher.close()


async def test_argon2_round_trip(make_hasher) -> None:
    hasher = make_hasher(FAST_ARGON2)
    encoded = await hasher.hash(PASSWORD)
    assert encoded.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    assert await hasher.verify(PASSWORD, encoded)
    assert not await hasher.verify(WRONG, encoded)
    assert encoded != await hasher.hash(PASSWORD)  # salted


async def test_bcrypt_round_trip_writes_2a_like_kratos(make_hasher) -> None:
    hasher = make_hasher(FAST_BCRYPT)
    encoded = await hasher.hash(PASSWORD)
    assert encoded.startswith("$2a$04$") and len(encoded) == 60
    assert await hasher.verify(PASSWORD, encoded)
    assert not await hasher.verify(WRONG, encoded)


async def test_bcrypt_refuses_to_hash_more_than_72_bytes(make_hasher) -> None:
    with pytest.raises(PasswordTooLong):
        await make_hasher(FAST_BCRYPT).hash("é" * 37)  # 74 bytes in UTF-8


async def test_verify_accepts_imported_formats(make_hasher) -> None:
    hasher = make_hasher(FAST_ARGON2)
    assert await hasher.verify(PASSWORD, MADE_HERE["pbkdf2-sha256"])
    assert not await hasher.verify(PASSWORD, "garbage")


async def test_needs_rehash_under_argon2(make_hasher) -> None:
    hasher = make_hasher(FAST_ARGON2)
    own = await hasher.hash(PASSWORD)
    assert not hasher.needs_rehash(own)
    assert hasher.needs_rehash(MADE_HERE["bcrypt 2b"])
    assert hasher.needs_rehash(MADE_HERE["argon2i"])
    assert hasher.needs_rehash(own.replace("m=64,", "m=128,"))
    assert hasher.needs_rehash(own.replace("t=1,", "t=2,"))
    assert hasher.needs_rehash(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1, hash_len=16).hash("x"))
    assert hasher.needs_rehash(MADE_HERE["pbkdf2-sha256"])
    assert hasher.needs_rehash("garbage")


async def test_needs_rehash_under_bcrypt(make_hasher) -> None:
    hasher = make_hasher(FAST_BCRYPT)
    assert not hasher.needs_rehash(await hasher.hash(PASSWORD))
    assert not hasher.needs_rehash(MADE_HERE["bcrypt 2b"])  # same cost, other minor letter
    assert hasher.needs_rehash(bcrypt.hashpw(PW, bcrypt.gensalt(5)).decode())
    assert hasher.needs_rehash(MADE_HERE["argon2id"])


async def test_hashing_runs_off_the_event_loop(make_hasher) -> None:
    # ~15-50 ms a hash here; on the loop, four of them would stall it for the whole time.
    hasher = make_hasher({"argon2": {"memory": "16MB", "iterations": 2, "parallelism": 1}}, max_workers=2)
    ticks: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.001)

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0.005)
    started = time.perf_counter()
    hashes = await asyncio.gather(*(hasher.hash(f"{PASSWORD}{i}") for i in range(4)))
    elapsed = time.perf_counter() - started
    done.set()
    await ticking
    during = [t for t in ticks if started <= t <= started + elapsed]
    gaps = [b - a for a, b in pairwise(ticks)]
    assert len(set(hashes)) == 4
    assert len(during) >= 10, f"{len(during)} ticks in {elapsed:.3f}s"
    assert max(gaps) < elapsed / 2, f"the loop stalled {max(gaps):.3f}s of {elapsed:.3f}s"


@pytest.mark.parametrize("work", ["hash", "verify"])
async def test_work_whose_caller_gave_up_while_it_waited_for_a_thread_is_never_done(make_hasher, work: str) -> None:
    # One thread, two hashes or checks: the second one's caller gives up while the first takes the
    # thread (the queue hands the pool one more than it runs). Had it been done anyway, the process
    # would have spent a second hash's CPU for nobody.
    hasher = make_hasher({"argon2": {"memory": "128MB", "iterations": 3, "parallelism": 1}}, max_workers=1)
    encoded = await hasher.hash(PASSWORD)

    def start() -> asyncio.Future[object]:
        return asyncio.ensure_future(hasher.hash(PASSWORD) if work == "hash" else hasher.verify(PASSWORD, encoded))

    cpu = time.process_time()
    first = start()
    waiting = budget.set(Budget(time.time() + 0.01))  # the second task runs in a copy of this context
    try:
        second = start()
    finally:
        budget.reset(waiting)
    await first
    one_hash = time.process_time() - cpu
    with pytest.raises(ServiceUnavailable):
        await second
    assert time.process_time() - cpu < 1.5 * one_hash, f"one hash took {one_hash:.2f} s of CPU"


async def test_a_closed_hasher_takes_no_more_work(make_hasher) -> None:
    hasher = make_hasher(FAST_BCRYPT)
    hasher.close()
    with pytest.raises(RuntimeError):
        await hasher.hash(PASSWORD)


# --- configuration -------------------------------------------------------------------------------


def test_defaults_are_kratos_raised_to_owasp() -> None:
    config = hasher_config_from(None)
    assert config.algorithm == "argon2"
    argon2 = config.argon2
    assert (argon2.memory, argon2.iterations, argon2.parallelism) == (128 << 20, 2, 1)
    assert (argon2.salt_length, argon2.key_length, argon2.dedicated_memory) == (16, 32, 1 << 30)
    assert argon2.expected_duration.total_seconds() == argon2.expected_deviation.total_seconds() == 0.5
    assert config.bcrypt.cost == 12


@pytest.mark.parametrize(
    "size,expected", [("128MB", 128 << 20), ("1GB", 1 << 30), ("64KB", 65536), ("20480KB", 20 << 20)]
)
def test_memory_sizes_are_binary_like_kratos(size: str, expected: int) -> None:
    config = hasher_config_from({"argon2": {"memory": size, "dedicated_memory": "1GB"}}, dev=True)
    assert config.argon2.memory == expected
    assert config.argon2.memory_kib == expected // 1024


@pytest.mark.parametrize(
    "raw",
    [
        {"argon2": {"memory": 134217728}},  # the schema types sizes as strings
        {"argon2": {"memory": "1.5GB"}},
        {"argon2": {"memory": "128mb"}},
        {"argon2": {"memory": "2GB"}},  # beyond what verification accepts
        {"argon2": {"iterations": 11}},
        {"argon2": {"iterations": True}},
        {"argon2": {"parallelism": 0}},
        {"argon2": {"salt_length": 8}},
        {"argon2": {"expected_duration": "1.5s"}},
        {"argon2": {"memoryy": "128MB"}},
        {"bcrypt": {"cost": 16}},
        {"algorithm": "scrypt"},
        {"argon2": "fast"},
    ],
)
def test_bad_config_is_refused(raw: dict) -> None:
    with pytest.raises(ConfigError):
        hasher_config_from(raw)


def test_costs_below_the_minimums_are_raised_outside_dev(caplog: pytest.LogCaptureFixture) -> None:
    raw = {"argon2": {"memory": "1MB", "iterations": 1}, "bcrypt": {"cost": 4}}
    with caplog.at_level(logging.WARNING):
        config = hasher_config_from(raw)
    assert (config.argon2.memory, config.argon2.iterations, config.bcrypt.cost) == (19 << 20, 2, 12)
    assert len(caplog.records) == 3
    dev = hasher_config_from(raw, dev=True)
    assert (dev.argon2.memory, dev.argon2.iterations, dev.bcrypt.cost) == (1 << 20, 1, 4)


def test_durations() -> None:
    assert parse_duration("1s500ms").total_seconds() == 1.5
    assert [format_duration(s) for s in (0.5, 1.25, 90, 0)] == ["500ms", "1s250ms", "1m30s", "0s"]


# --- calibration ---------------------------------------------------------------------------------


def test_calibration_picks_the_most_iterations_under_the_target() -> None:
    result = calibrate_argon2(0.35, 64 << 20, 1, min_iterations=1, probe=lambda t: 0.02 + 0.1 * t)
    block = result["argon2"]
    assert block == {
        "memory": "64MB",
        "iterations": 3,
        "parallelism": 1,
        "salt_length": 16,
        "key_length": 32,
        "expected_duration": "350ms",
        "expected_deviation": "500ms",
        "dedicated_memory": "1GB",
    }
    assert result["measured_seconds"] == pytest.approx(0.32)
    assert result["measured_duration"] == "320ms"
    assert len(result["probes"]) <= 6


def test_calibration_stops_at_the_minimum_when_that_is_already_too_slow() -> None:
    result = calibrate_argon2(0.2, 1 << 30, 1, probe=lambda t: 0.5 * t)
    assert result["argon2"]["iterations"] == 2 and len(result["probes"]) == 1


def test_calibration_on_this_machine_gives_a_usable_config() -> None:
    started = time.perf_counter()
    result = calibrate_argon2(0.005, 64 << 10, 1, runs=1)
    assert time.perf_counter() - started < 1
    assert 2 <= result["argon2"]["iterations"] <= 10
    config = hasher_config_from({"argon2": result["argon2"]}, dev=True)
    assert config.argon2.memory == 64 << 10


def test_calibration_refuses_parameters_warden_could_not_verify() -> None:
    with pytest.raises(ValueError):
        calibrate_argon2(1, 2 << 30, 1)
    with pytest.raises(ValueError):
        calibrate_argon2(1, 64 << 20, 1, max_iterations=64)
