"""TOTP codes and backup codes without a server: the drift allowed around a time step, what is no
code at all, and backup codes kept only as keyed hashes."""

from __future__ import annotations

import pyotp
import pytest

from services.selfservice.strategies.lookup_secret.codes import new_codes, unused_count
from services.selfservice.strategies.totp.codes import matching_step, new_secret, provisioning_url
from shared.aal import backup_codes
from shared.backup_codes import CodeHasher

NOW = 1_800_000_015.0  # inside step 60_000_000


@pytest.fixture
def url() -> str:
    return provisioning_url(new_secret(), "a@example.com", "Warden")


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_a_code_of_the_current_or_a_neighbouring_step_matches_its_step(url: str, offset: int) -> None:
    code = pyotp.parse_uri(url).at(NOW + 30 * offset)
    assert matching_step(url, code, at=NOW) == 60_000_000 + offset


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_a_code_two_steps_away_or_more_does_not(url: str, offset: int) -> None:
    code = pyotp.parse_uri(url).at(NOW + 30 * offset)
    neighbours = {pyotp.parse_uri(url).at(NOW + 30 * d) for d in (-1, 0, 1)}
    if code not in neighbours:  # one chance in 10^6 that another step has the same six digits
        assert matching_step(url, code, at=NOW) is None


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", "12 456"])
def test_what_is_no_six_digit_code_never_matches(url: str, code: str) -> None:
    assert matching_step(url, code, at=NOW) is None


def test_a_stored_url_too_weak_to_check_against_matches_no_code_and_raises_nothing() -> None:
    # An 80-bit secret, imported before imports were checked: its own code is refused, not a 500.
    weak = "otpauth://totp/Old:a@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Old"
    code = type("OldTotp", (pyotp.TOTP,), {"min_secret_length_bits": 80})("JBSWY3DPEHPK3PXP").at(NOW)
    assert matching_step(weak, code, at=NOW) is None
    assert matching_step(f"otpauth://totp/a?secret={'A' * 32}&counter=0", "123456", at=NOW) is None


def test_backup_codes_are_kept_as_hashes_and_found_by_the_code() -> None:
    codes = new_codes()
    assert len(codes) == 12 and len(set(codes)) == 12
    hasher = CodeHasher(["pepper"])
    config = hasher.config_for(codes)
    assert not any(code in str(config) for code in codes)
    assert hasher.find(config, codes[3]) == 3 and hasher.find(config, "zzzzzzzz") is None
    assert CodeHasher(["another pepper"]).find(config, codes[3]) is None, "the key is part of the hash"
    spent = hasher.spent(config, 3)
    assert unused_count(spent) == 11 and backup_codes(spent)[3]["used_at"] and hasher.find(spent, codes[3]) == 3


def test_codes_imported_in_clear_are_hashed_once_one_is_spent() -> None:
    hasher = CodeHasher(["pepper"])
    imported = {"codes": [{"code": "abcd1234"}, {"code": "efgh5678"}]}
    assert hasher.find(imported, "efgh5678") == 1
    spent = hasher.spent(imported, 1)
    assert "abcd1234" not in str(spent) and "efgh5678" not in str(spent) and "codes" not in spent
    assert hasher.find(spent, "abcd1234") == 0 and unused_count(spent) == 1


def test_codes_keyed_with_a_rotated_secret_are_still_found() -> None:
    codes = new_codes()
    made_before = CodeHasher(["old pepper"]).config_for(codes)
    rotated = CodeHasher(["new pepper", "old pepper"])
    assert rotated.find(made_before, codes[5]) == 5, "the old secret still checks its codes"
    made_after = rotated.config_for(codes)
    assert CodeHasher(["new pepper"]).find(made_after, codes[5]) == 5, "new codes are keyed with the first"
    assert CodeHasher(["old pepper"]).find(made_after, codes[5]) is None


def test_codes_imported_in_clear_are_sealed_once_and_still_found() -> None:
    hasher = CodeHasher(["a-secret-of-the-server"])
    imported = {"codes": [{"code": "abcd1234"}, {"code": "wxyz9876", "used_at": "2026-01-01T00:00:00Z"}]}
    sealed = hasher.sealed(imported)
    assert "abcd1234" not in str(sealed) and "wxyz9876" not in str(sealed) and "codes" not in sealed
    assert [e["used_at"] for e in sealed["recovery_codes"]] == [None, "2026-01-01T00:00:00Z"]
    assert hasher.find(sealed, "abcd1234") == 0 and hasher.find(sealed, "nope0000") is None
    assert hasher.sealed(sealed) is sealed, "sealing what is sealed changes nothing"
    assert CodeHasher(["a-new-secret", "a-secret-of-the-server"]).find(sealed, "wxyz9876") == 1


def test_sealing_hashes_codes_as_a_login_compares_them_and_keeps_their_places() -> None:
    hasher = CodeHasher(["a-secret-of-the-server"])
    made = hasher.config_for(["made0001"])["recovery_codes"][0]
    imported = {"codes": [{"code": " ABCD1234 "}, {**made, "code": "made0001"}, {"code": "wxyz9876"}]}
    sealed = hasher.sealed(imported)
    assert "made0001" not in str(sealed) and "ABCD1234" not in str(sealed), "no code in clear beside its hash"
    assert hasher.find(sealed, "abcd1234") == 0, "a login lowercases and trims what is typed"
    assert hasher.find(sealed, "wxyz9876") == 2
    spent = hasher.spent(imported, 2)
    assert [e["used_at"] is not None for e in spent["recovery_codes"]] == [False, False, True]
