"""Importing identities with password hashes of every format Warden accepts, on SQLite and on
PostgreSQL: each imported hash is created through the admin API (Kratos's SDK), checked through the
internal API, and replaced by the configured hasher's (bcrypt, cost 4 in the test config) at the
first successful login. Unknown or too costly hashes are refused at import, before any hashing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import bcrypt
import ory_kratos_client as kratos
import pytest
from argon2 import PasswordHasher
from argon2.low_level import Type, hash_secret
from ory_kratos_client.api.identity_api import IdentityApi
from ory_kratos_client.exceptions import ApiException

from tests.conftest import _fresh_pg_database, require_server
from tests.factories import ThreadedWarden, running_warden
from tests.integration.test_identity_internal_api import SyncIdentityClient, identity_client, with_token

PASSWORD = "correct horse battery staple ✓"
WRONG = "correct horse battery stapLe ✓"
PW = PASSWORD.encode()
SALT = b"pepper&salt-0123"
CONFIGURED_PREFIX = "$2a$04$"  # the factory config: bcrypt, cost 4
UNKNOWN_FORMAT = "The imported password does not match any known hash format."


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64_raw(data: bytes) -> str:
    return b64(data).rstrip("=")


# --- hashes as other systems write them, in the encodings Kratos imports -----------------------


def _bcrypt(prefix: bytes) -> str:
    # Cost 5, not the configured 4, so that even a bcrypt import is re-hashed at login.
    return bcrypt.hashpw(PW, bcrypt.gensalt(rounds=5, prefix=prefix)).decode()


def _pbkdf2(name: str) -> str:
    key = hashlib.pbkdf2_hmac(name, PW, SALT, 1000, 32)
    return f"$pbkdf2-{name}$i=1000,l=32${b64_raw(SALT)}${b64_raw(key)}"


def _scrypt() -> str:
    key = hashlib.scrypt(PW, salt=SALT, n=1024, r=8, p=1, dklen=32)
    return f"$scrypt$ln=1024,r=8,p=1${b64(SALT)}${b64(key)}"  # Kratos's `ln` is N itself


def _ssha(scheme: str, digest: str) -> str:
    return "{" + scheme + "}" + b64(hashlib.new(digest, PW + SALT).digest() + SALT)


def _salted(name: str, template: bytes) -> str:
    message = template.replace(b"{SALT}", SALT).replace(b"{PASSWORD}", PW)
    return f"${name}$pf={b64(template)}${b64(SALT)}${b64(hashlib.new(name, message).digest())}"


def _hmac_sha256() -> str:
    mac = hmac.new(b"the key", PW, "sha256").hexdigest().encode()
    return f"$hmac-sha256${b64(mac)}${b64(b'the key')}"


def _crypt(kratos_prefix: str, crypt_prefix: str, setting: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    return kratos_prefix + crypt.crypt(PASSWORD, crypt_prefix + setting)[len(crypt_prefix) :]


# Firebase's published scrypt vector (its README; also in tests/unit/test_hashing.py).
FIRESCRYPT = (
    "$firescrypt$ln=14,r=8,p=1$42xEC+ixf3L2lw==$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoI"
    "tz+VHjoZilo78198JAdRuid5lQ==$Bw==$jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0Qs"
    "EmYUSDzZvpjeJ9WmXA=="
)

# name -> (password, a builder of the encoded hash); built in the test, not at import.
IMPORTABLE: dict[str, tuple[str, Callable[[], str]]] = {
    "bcrypt 2a": (PASSWORD, lambda: _bcrypt(b"2a")),
    "bcrypt 2b": (PASSWORD, lambda: _bcrypt(b"2b")),
    "argon2id": (PASSWORD, lambda: PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(PASSWORD)),
    "argon2i": (
        PASSWORD,
        lambda: hash_secret(PW, SALT, time_cost=2, memory_cost=64, parallelism=1, hash_len=32, type=Type.I).decode(),
    ),
    "pbkdf2-sha1": (PASSWORD, lambda: _pbkdf2("sha1")),
    "pbkdf2-sha256": (PASSWORD, lambda: _pbkdf2("sha256")),
    "pbkdf2-sha512": (PASSWORD, lambda: _pbkdf2("sha512")),
    "scrypt": (PASSWORD, _scrypt),
    "SSHA": (PASSWORD, lambda: _ssha("SSHA", "sha1")),
    "SSHA256": (PASSWORD, lambda: _ssha("SSHA256", "sha256")),
    "SSHA512": (PASSWORD, lambda: _ssha("SSHA512", "sha512")),
    "sha1 pf": (PASSWORD, lambda: _salted("sha1", b"{SALT}{PASSWORD}")),
    "sha256 pf": (PASSWORD, lambda: _salted("sha256", b"{PASSWORD}--{SALT}")),
    "sha512 pf": (PASSWORD, lambda: _salted("sha512", b"{PASSWORD}{SALT}")),
    "md5": (PASSWORD, lambda: f"$md5${b64(hashlib.md5(PW).digest())}"),
    "md5 salted": (PASSWORD, lambda: _salted("md5", b"{SALT}:{PASSWORD}")),
    "hmac-sha256": (PASSWORD, _hmac_sha256),
    "firescrypt": ("user1password", lambda: FIRESCRYPT),
    "md5-crypt": (PASSWORD, lambda: _crypt("$md5-crypt", "$1", "$saltsalt$")),
    "sha256-crypt": (PASSWORD, lambda: _crypt("$sha256-crypt", "$5", "$rounds=1000$saltsaltsaltsalt$")),
    "sha512-crypt": (PASSWORD, lambda: _crypt("$sha512-crypt", "$6", "$saltsalt$")),
}

UNKNOWN = {
    "unknown algorithm": "$unknown$12$o6hx.Wog/wvFSkT/Bp/6DOxCtLRTDj7lm9on9suF/WaCGNVHbkfL6",
    "plain text": "hunter2",
    "argon2d": "$argon2d$v=19$m=64,t=1,p=1$cm94YnRVOW5jZzFzcVE4bQ$MNzk5BtR2vUhrp6qQEjRNw",
    "SSHA384": "{SSHA384}JFZFs0oHzxbMwkSJmYVeI8MnTDy/276a",
    "truncated bcrypt": "$2a$05$o6hx.Wog/wvFSkT/Bp/6DOxCtLRTDj7lm9on9suF",
}

OUT_OF_BOUNDS = {
    "bcrypt cost 31": "$2a$31$abcdefghijklmnopqrstuugn/uitWMnDoOdJaSWqW1pjEXZ8eOSCqK",
    "pbkdf2 1e8 iterations": f"$pbkdf2-sha256$i=100000000,l=32${b64_raw(SALT)}${b64_raw(bytes(32))}",
    "scrypt N=2^21": f"$scrypt$ln=2097152,r=8,p=1${b64(SALT)}${b64(bytes(32))}",
    "argon2id 8 GiB": "$argon2id$v=19$m=8388608,t=2,p=4$cm94YnRVOW5jZzFzcVE4bQ$MNzk5BtR2vUhrp6qQEjRNw",
}


# --- one Warden per engine for the whole module: a server per format would dominate the run -----


@contextmanager
def _dsn(engine: str, directory: Path) -> Iterator[str]:
    """`any_dsn` for a module: the same two engines, each database fresh for this module."""
    if engine == "sqlite":
        yield f"sqlite://{directory}/warden.sqlite"
        return
    require_server("PostgreSQL", "127.0.0.1", 5432)
    fresh = _fresh_pg_database()
    try:
        yield next(fresh)
    finally:
        fresh.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def warden(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp(f"import-{request.param}")
    with _dsn(request.param, directory) as dsn, running_warden(with_token(directory, dsn)) as running:
        yield running


@pytest.fixture(scope="module")
def admin(warden: ThreadedWarden) -> Iterator[IdentityApi]:
    with kratos.ApiClient(kratos.Configuration(host=warden.admin_url)) as api_client:
        yield IdentityApi(api_client)


@pytest.fixture(scope="module")
def client(warden: ThreadedWarden) -> Iterator[SyncIdentityClient]:
    with identity_client(warden) as made:
        yield made


def _email(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") + "@import.example"


def _with_hash(encoded: str) -> kratos.IdentityWithCredentials:
    return kratos.IdentityWithCredentials(
        password=kratos.IdentityWithCredentialsPassword(
            config=kratos.IdentityWithCredentialsPasswordConfig(hashed_password=encoded)
        )
    )


def _import(admin: IdentityApi, email: str, encoded: str):  # type: ignore[no-untyped-def]
    return admin.create_identity(
        kratos.CreateIdentityBody(schema_id="default", traits={"email": email}, credentials=_with_hash(encoded))
    )


def _stored_hash(client: SyncIdentityClient, identity_id: str) -> str:
    return client.get_credential(identity_id, "password")["config"]["hashed_password"]


def _refused(call: Callable[[], object]) -> tuple[int, str, float]:
    started = time.perf_counter()
    with pytest.raises(ApiException) as caught:
        call()
    return caught.value.status, json.loads(caught.value.body)["error"].get("reason", ""), time.perf_counter() - started


@pytest.mark.parametrize("name", IMPORTABLE)
def test_imported_hash_verifies_and_is_rehashed_at_first_login(
    name: str, admin: IdentityApi, client: SyncIdentityClient
) -> None:
    password, build = IMPORTABLE[name]
    encoded, email = build(), _email(name)
    created = _import(admin, email, encoded)
    assert "hashed_password" not in json.dumps(created.to_dict(), default=str)
    assert _stored_hash(client, created.id) == encoded

    assert client.verify_password(email, WRONG) is None
    assert _stored_hash(client, created.id) == encoded  # a failed login rewrites nothing

    assert client.verify_password(email, password)["id"] == created.id
    rehashed = _stored_hash(client, created.id)
    assert rehashed.startswith(CONFIGURED_PREFIX) and rehashed != encoded

    assert client.verify_password(email, password)["id"] == created.id
    assert client.verify_password(email, WRONG) is None
    assert _stored_hash(client, created.id) == rehashed  # already of the configured kind


def test_a_hash_of_the_configured_kind_is_kept(admin: IdentityApi, client: SyncIdentityClient) -> None:
    encoded = bcrypt.hashpw(PW, bcrypt.gensalt(rounds=4, prefix=b"2a")).decode()
    created = _import(admin, "configured-kind@import.example", encoded)
    assert client.verify_password("configured-kind@import.example", PASSWORD)["id"] == created.id
    assert _stored_hash(client, created.id) == encoded


@pytest.mark.parametrize("encoded", [*UNKNOWN.values(), *OUT_OF_BOUNDS.values()], ids=[*UNKNOWN, *OUT_OF_BOUNDS])
def test_unknown_or_too_costly_hashes_are_refused_quickly(encoded: str, admin: IdentityApi) -> None:
    email = f"refused-{hashlib.sha1(encoded.encode()).hexdigest()[:10]}@import.example"
    status, reason, took = _refused(lambda: _import(admin, email, encoded))
    assert (status, reason) == (400, UNKNOWN_FORMAT)
    assert took < 2.0  # refused by parsing: computing any of these would take minutes or more
    assert admin.list_identities(credentials_identifier=email) == []


def test_a_refused_hash_in_an_update_leaves_the_password_as_it_was(
    admin: IdentityApi, client: SyncIdentityClient
) -> None:
    created = _import(admin, "update-refused@import.example", _pbkdf2("sha256"))
    status, reason, _ = _refused(
        lambda: admin.update_identity(
            created.id,
            kratos.UpdateIdentityBody(
                schema_id="default",
                state="active",
                traits={"email": "update-refused@import.example"},
                credentials=_with_hash(OUT_OF_BOUNDS["bcrypt cost 31"]),
            ),
        )
    )
    assert (status, reason) == (400, UNKNOWN_FORMAT)
    assert client.verify_password("update-refused@import.example", PASSWORD)["id"] == created.id


# --- no account enumeration by timing ----------------------------------------------------------


def test_an_unknown_identifier_costs_as_much_as_a_wrong_password(tmp_path: Path, any_dsn: str) -> None:
    # bcrypt cost 9 (~40 ms here) makes the hash, not the HTTP round trip, the bulk of each call:
    # without the dummy hash an unknown identifier would answer many times faster.
    settings = with_token(tmp_path, any_dsn, hashers={"algorithm": "bcrypt", "bcrypt": {"cost": 9}})
    with running_warden(settings) as running, identity_client(running) as client:
        client.create_identity(
            {
                "schema_id": "default",
                "traits": {"email": "known@import.example"},
                "credentials": {"password": {"config": {"password": PASSWORD}}},
            }
        )

        def timed(identifier: str) -> float:
            started = time.perf_counter()
            assert client.verify_password(identifier, WRONG) is None
            return time.perf_counter() - started

        timed("known@import.example"), timed("unknown@import.example")  # warm up pools and caches
        known, unknown = [], []
        for _ in range(5):  # interleaved, so that a slow moment of the machine hits both
            known.append(timed("known@import.example"))
            unknown.append(timed("unknown@import.example"))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.3 <= ratio <= 3.0, (known, unknown)
