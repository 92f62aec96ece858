"""Which WebAuthn keys make an identity's available AAL aal2: security keys do, passwordless ones
(a first factor, as in Kratos) do not, and a credential whose keys are not listed counts."""

from __future__ import annotations

from shared.aal import AAL1, AAL2, AssuranceRules


def _identity(*passwordless: bool) -> dict[str, object]:
    keys = [{"id": f"k{i}", "is_passwordless": p} for i, p in enumerate(passwordless)]
    return {"credentials": {"password": {}, "webauthn": {"config": {"credentials": keys}}}}


def test_security_keys_are_a_second_factor_and_passwordless_keys_are_not() -> None:
    assert AssuranceRules().available_aal(_identity(False)) == AAL2
    assert AssuranceRules().available_aal(_identity(True, False)) == AAL2
    assert AssuranceRules().available_aal(_identity(True)) == AAL1
    assert AssuranceRules().available_aal({"credentials": {"webauthn": {"identifiers": []}}}) == AAL2  # keys not listed
    assert (
        AssuranceRules().available_aal({"credentials": {"passkey": {"config": {"credentials": [{"id": "p"}]}}}}) == AAL1
    )
