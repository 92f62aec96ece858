"""A login code as a second factor (`selfservice.methods.code.mfa_enabled`): once an identity has a
verified `code` address, it can reach aal2, so `highest_available` asks its password-only session for
the code step (Kratos's `CountActiveMultiFactorCredentials` for the code strategy)."""

from __future__ import annotations

from typing import Any

from shared.aal import AAL1, AAL2, HIGHEST_AVAILABLE, AssuranceRules
from shared.config import load_settings
from tests.factories import write_config

EMAIL = "ada@example.com"


def _identity(*, verified: bool, code_identifiers: list[str] | None = None) -> dict[str, Any]:
    return {
        "credentials": {
            "password": {"identifiers": [EMAIL]},
            "code": {"identifiers": [EMAIL] if code_identifiers is None else code_identifiers},
        },
        "verifiable_addresses": [{"via": "email", "value": EMAIL, "verified": verified}],
    }


def test_a_verified_code_address_is_a_second_factor_only_with_code_mfa() -> None:
    on, off = AssuranceRules(code_mfa=True), AssuranceRules()
    assert on.available_aal(_identity(verified=True)) == AAL2
    assert off.available_aal(_identity(verified=True)) == AAL1
    assert not on.satisfies(AAL1, _identity(verified=True), HIGHEST_AVAILABLE)
    assert on.satisfies(AAL2, _identity(verified=True), HIGHEST_AVAILABLE)
    assert on.satisfies(AAL1, _identity(verified=True), AAL1)


def test_an_unproven_address_or_one_that_is_no_code_address_is_not() -> None:
    on = AssuranceRules(code_mfa=True)
    assert on.available_aal(_identity(verified=False)) == AAL1  # no code could be offered to it
    assert on.available_aal(_identity(verified=True, code_identifiers=[])) == AAL1
    assert on.available_aal(_identity(verified=True, code_identifiers=["other@example.com"])) == AAL1
    assert on.available_aal({"credentials": {"password": {}}, "verifiable_addresses": []}) == AAL1


def test_read_from_the_code_method_settings(tmp_path: Any) -> None:
    def rules(code: dict[str, Any]) -> AssuranceRules:
        path = write_config(tmp_path, "sqlite://:memory:", {"selfservice": {"methods": {"code": code}}})
        return AssuranceRules.from_settings(load_settings([path], {}, dev=True))

    assert rules({"mfa_enabled": True}).code_mfa
    assert not rules({"mfa_enabled": True, "enabled": False}).code_mfa
    assert not rules({"passwordless_enabled": True}).code_mfa
