"""Which previous addresses `notify_previous_addresses` tells of a settings change, for each
`config.recipients` (Kratos's `computeNotifyTargets` and `addressesChanged`)."""

from __future__ import annotations

from typing import Any

import pytest

from services.selfservice.hooks.notify_previous_addresses import ALL, ALL_VERIFIED, REMOVED, notified


def _address(value: str, *, verified: bool = False, via: str = "email") -> dict[str, Any]:
    return {"value": value, "via": via, "verified": verified, "status": "completed" if verified else "pending"}


def _identity(*addresses: dict[str, Any]) -> dict[str, Any]:
    return {"verifiable_addresses": list(addresses)}


HOME, WORK, PHONE = "home@example.com", "work@example.com", "+15550100"
BEFORE = _identity(_address(HOME, verified=True), _address(WORK), _address(PHONE, verified=True, via="sms"))
# The work address was replaced by a new one; home and the phone stay.
AFTER = _identity(_address(HOME, verified=True), _address("new@example.com"), _address(PHONE, via="sms"))


@pytest.mark.parametrize(
    ("recipients", "told"),
    [(REMOVED, [WORK]), (ALL_VERIFIED, [HOME, PHONE]), (ALL, [HOME, WORK, PHONE])],
)
def test_each_recipients_mode_picks_its_previous_addresses(recipients: str, told: list[str]) -> None:
    assert [a["value"] for a in notified(recipients, BEFORE, AFTER)] == told


@pytest.mark.parametrize("recipients", [REMOVED, ALL_VERIFIED, ALL])
def test_nobody_is_told_when_the_addresses_stay_the_same(recipients: str) -> None:
    """Verifying an address, or reordering them, is no change of address."""
    verified_now = _identity(_address(PHONE, verified=True, via="sms"), _address(HOME, verified=True), _address(WORK))
    assert notified(recipients, BEFORE, verified_now) == []
    assert notified(recipients, BEFORE, BEFORE) == []


def test_an_added_address_alone_tells_all_but_removes_nothing() -> None:
    added = _identity(*BEFORE["verifiable_addresses"], _address("extra@example.com"))
    assert notified(REMOVED, BEFORE, added) == []
    assert [a["value"] for a in notified(ALL_VERIFIED, BEFORE, added)] == [HOME, PHONE]


def test_the_same_value_on_another_channel_is_another_address() -> None:
    moved = _identity(_address(HOME, verified=True, via="sms"))
    assert notified(REMOVED, _identity(_address(HOME, verified=True)), moved) == [_address(HOME, verified=True)]


def test_an_identity_without_addresses_tells_no_one() -> None:
    assert notified(ALL, {}, _identity(_address(HOME))) == []
