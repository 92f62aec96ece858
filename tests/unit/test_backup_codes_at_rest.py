"""Backup codes at rest without a server (checklist OTP-7): each set under argon2id with one salt,
over a keyed hash; a check derives once, whatever the number of codes; older sets (plain keyed
hashes, codes in clear) still found, and sealed without their codes."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import shared.kdf
from services.selfservice.strategies.lookup_secret.codes import new_codes, unused_count
from shared.aal import backup_codes
from shared.backup_codes import CodeHasher
from shared.kdf import Argon2idKdf, Argon2idParams, hashing_pool, parse_prefix

PARAMS = Argon2idParams(memory_kib=64, iterations=1, parallelism=1)  # cheap: what is tested is the shape


class CountingKdf:
    """The real KDF, counting the derivations asked of it."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self._kdf = Argon2idKdf(pool)
        self.derived = 0

    async def derive(self, secrets: list[bytes], salt: bytes, params: Argon2idParams) -> list[bytes]:
        self.derived += len(secrets)
        return await self._kdf.derive(secrets, salt, params)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield executor


@pytest.fixture
def kdf(pool: ThreadPoolExecutor) -> CountingKdf:
    return CountingKdf(pool)


def _hasher(kdf: CountingKdf, *peppers: str, params: Argon2idParams | None = PARAMS) -> CodeHasher:
    return CodeHasher(list(peppers or ["a-secret-of-the-server"]), kdf, params)


def _clear(codes: list[str]) -> dict[str, Any]:
    return {"recovery_codes": [{"code": c, "used_at": None} for c in codes]}


def _legacy(hasher: CodeHasher, codes: list[str]) -> dict[str, Any]:
    """A set as Warden stored it before the KDF: HMAC-SHA256 under the secret, salted per set."""
    salt = "00112233445566778899aabbccddeeff"
    return {"salt": salt, "recovery_codes": [{"hash": hasher.digest(salt, c), "used_at": None} for c in codes]}


async def test_a_set_is_stored_under_argon2id_with_one_salt_and_no_code_or_keyed_hash(kdf: CountingKdf) -> None:
    hasher, codes = _hasher(kdf), new_codes()
    sealed = await hasher.sealed(_clear(codes))
    params, salt = parse_prefix(sealed["kdf"])
    assert sealed["kdf"].startswith("$argon2id$v=19$") and params == PARAMS and len(salt) == 16
    keyed = {hasher.digest(sealed["salt"], c) for c in codes}
    assert not any(c in str(sealed) for c in codes) and not any(k in str(sealed) for k in keyed)
    assert all(len(base64.b64decode(e["hash"] + "=")) == 32 for e in sealed["recovery_codes"])
    assert await hasher.find(sealed, codes[3]) == 3 and await hasher.find(sealed, "zzzzzzzz") is None
    assert await _hasher(kdf, "another secret").find(sealed, codes[3]) is None, "the secret is part of it"


@pytest.mark.parametrize("count", [1, 12, 40])
async def test_a_check_derives_once_whatever_the_number_of_codes(kdf: CountingKdf, count: int) -> None:
    codes = [f"code{i:04d}" for i in range(count)]
    sealed = await _hasher(kdf).sealed(_clear(codes))
    rotated = _hasher(kdf, "a-new-secret", "a-secret-of-the-server", "an-old-secret")
    for code, found in ((codes[-1], count - 1), ("zzzzzzzz", None)):
        kdf.derived = 0
        assert await rotated.find(sealed, code) == found
        assert kdf.derived == 1, "one derivation, under the secret the set names, compared with every entry"


async def test_a_plain_keyed_hash_set_is_found_and_sealed_without_its_codes(kdf: CountingKdf) -> None:
    hasher, codes = _hasher(kdf), new_codes()
    legacy = hasher.spent(_legacy(hasher, codes), 0)
    assert hasher.needs_sealing(legacy) and await hasher.find(legacy, codes[4]) == 4
    sealed = await hasher.sealed(legacy)
    assert not hasher.needs_sealing(sealed) and "kdf" in sealed
    stored = {e["hash"] for e in legacy["recovery_codes"]}
    assert not stored & set(str(sealed).split("'")), "no plain keyed hash is left"
    assert [bool(e["used_at"]) for e in sealed["recovery_codes"]] == [True] + [False] * 11
    kdf.derived = 0
    assert await hasher.find(sealed, codes[4]) == 4 and await hasher.find(sealed, codes[0]) == 0
    assert await hasher.find(sealed, "zzzzzzzz") is None
    assert kdf.derived == 3, "a wrapped set names no secret: one derivation per configured secret (one)"


async def test_codes_in_clear_are_sealed_as_a_login_compares_them_and_keep_their_places(kdf: CountingKdf) -> None:
    hasher = _hasher(kdf)
    imported = {"codes": [{"code": " ABCD1234 "}, {"code": "wxyz9876", "used_at": "2026-01-01T00:00:00Z"}]}
    assert await hasher.find(imported, "wxyz9876") == 1, "still found before they are sealed"
    sealed = await hasher.sealed(imported)
    assert "abcd1234" not in str(sealed).lower() and "wxyz9876" not in str(sealed) and "codes" not in sealed
    assert [e["used_at"] for e in sealed["recovery_codes"]] == [None, "2026-01-01T00:00:00Z"]
    assert await hasher.find(sealed, "abcd1234") == 0, "a login lowercases and trims what is typed"
    kdf.derived = 0
    assert await hasher.sealed(sealed) is sealed and kdf.derived == 0, "sealing what is sealed derives nothing"


async def test_codes_given_beside_a_sealed_set_join_it_under_its_salt(kdf: CountingKdf) -> None:
    hasher = _hasher(kdf)
    sealed = await hasher.sealed(_clear(["made0001"]))
    mixed = {**sealed, "recovery_codes": [*sealed["recovery_codes"], {"code": "added002"}]}
    joined = await hasher.sealed(mixed)
    assert joined["kdf"] == sealed["kdf"] and "added002" not in str(joined)
    kdf.derived = 0
    assert await hasher.find(joined, "added002") == 1 and await hasher.find(joined, "made0001") == 0
    assert kdf.derived == 2


async def test_a_set_keeps_its_parameters_when_the_configured_ones_change(kdf: CountingKdf) -> None:
    codes = new_codes()
    made = await _hasher(kdf).sealed(_clear(codes))
    stronger = _hasher(kdf, params=Argon2idParams(memory_kib=128, iterations=2, parallelism=1))
    assert await stronger.find(made, codes[7]) == 7
    assert await _hasher(kdf, params=None).find(made, codes[7]) == 7, "a checker needs no parameters"


async def test_spending_marks_one_entry_and_derives_nothing(kdf: CountingKdf) -> None:
    hasher, codes = _hasher(kdf), new_codes()
    sealed = await hasher.sealed(_clear(codes))
    kdf.derived = 0
    spent = hasher.spent(sealed, 3)
    assert kdf.derived == 0 and unused_count(spent) == 11 and backup_codes(spent)[3]["used_at"]
    assert {k: v for k, v in spent.items() if k != "recovery_codes"} == {
        k: v for k, v in sealed.items() if k != "recovery_codes"
    }
    assert await hasher.find(spent, codes[3]) == 3, "found, and its entry says it was used"


@pytest.mark.parametrize(
    "prefix",
    [
        "$argon2id$v=19$m=4194304,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA",  # 4 GiB
        "$argon2id$v=19$m=1048576,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA",  # 1 GiB: a password hash's worth
        "$argon2id$v=19$m=19456,t=10,p=1$AAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$m=19456,t=99,p=1$AAAAAAAAAAAAAAAAAAAAAA",
        "$argon2i$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$m=19456,t=2,p=1$AAAA",  # a 3-byte salt
    ],
)
def test_parameters_past_the_bounds_are_refused_before_they_cost_anything(prefix: str) -> None:
    with pytest.raises(ValueError):
        parse_prefix(prefix)


async def test_the_derivation_runs_on_the_hashing_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = shared.kdf.hash_secret_raw

    def recording(**kwargs: Any) -> bytes:
        seen.append(threading.current_thread().name)
        return real(**kwargs)

    monkeypatch.setattr(shared.kdf, "hash_secret_raw", recording)
    pool = hashing_pool(1, "warden-test-hashing")
    try:
        await Argon2idKdf(pool).derive([b"a", b"b"], b"0123456789abcdef", PARAMS)
    finally:
        pool.shutdown()
    assert len(seen) == 2 and all(name.startswith("warden-test-hashing") for name in seen), seen


@pytest.mark.parametrize("stored_salt", [None, ""])
async def test_a_keyed_hash_set_without_a_salt_keeps_working_once_sealed(
    kdf: CountingKdf, stored_salt: str | None
) -> None:
    """Keyed hashes stored with no salt (an import gave none) were made with the empty one, as `find`
    reads it: sealing wraps them under that same salt, not a new one."""
    hasher, codes = _hasher(kdf), [f"nosalt{i:02d}" for i in range(3)]
    given: dict[str, Any] = {"recovery_codes": [{"hash": hasher.digest("", c), "used_at": None} for c in codes]}
    if stored_salt is not None:
        given["salt"] = stored_salt
    assert await hasher.find(given, codes[1]) == 1
    sealed = await hasher.sealed(given)
    assert "kdf" in sealed and await hasher.find(sealed, codes[1]) == 1
    assert await hasher.find(await hasher.sealed(_clear(codes)), codes[2]) == 2, "a set in clear gets a salt"
