"""TOTP codes without a server: the drift allowed around a time step, and what is no code at all
(backup codes: test_backup_codes_at_rest.py)."""

from __future__ import annotations

import pyotp
import pytest

from services.selfservice.strategies.totp.codes import matching_step, new_secret, provisioning_url

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
