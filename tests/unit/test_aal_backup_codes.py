"""Which backup-code credentials make an identity's available AAL aal2 (Kratos's rule): one with an
unused code does, one spent to the last does not, and one whose codes are not listed counts."""

from __future__ import annotations

from shared.aal import AAL1, AAL2, AssuranceRules


def _identity(*used: bool) -> dict[str, object]:
    codes = [{"used_at": "2026-01-01T00:00:00Z" if u else None} for u in used]
    return {"credentials": {"password": {}, "lookup_secret": {"config": {"recovery_codes": codes}}}}


def test_backup_codes_are_a_second_factor_while_one_is_unused() -> None:
    assert AssuranceRules().available_aal(_identity(True, False)) == AAL2
    assert AssuranceRules().available_aal(_identity(True, True)) == AAL1
    assert AssuranceRules().available_aal(_identity()) == AAL1
    assert (
        AssuranceRules().available_aal({"credentials": {"lookup_secret": {"identifiers": []}}}) == AAL2
    )  # codes not listed


def test_spent_backup_codes_leave_the_other_factors_counting() -> None:
    spent = _identity(True)
    spent["credentials"]["totp"] = {"identifiers": []}  # type: ignore[index]
    assert AssuranceRules().available_aal(spent) == AAL2
