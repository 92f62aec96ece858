"""The masked addresses recovery by a chosen address shows (strategies/code/recovery.py): Kratos's
`MaskAddress` examples, except that a local part of one or two characters is never shown whole."""

from __future__ import annotations

import pytest

from services.selfservice.strategies.code.recovery import mask


@pytest.mark.parametrize(
    "address,masked",
    [
        ("foo@bar", "fo****@bar"),
        ("test-browser@ory.sh", "te****@ory.sh"),
        ("foobar", "foo****ar"),  # Kratos's comment says fo****ar; its code keeps three
        ("+12345678910", "+12****10"),
        ("+491705550167", "+49****67"),
        ("fo@bar", "f****@bar"),  # Kratos: fo****@bar
        ("f@bar", "f****@bar"),  # Kratos: f@bar, the address in full
        ("short", "short"),  # not an address of anyone's: the stand-in of what was typed
    ],
)
def test_mask(address: str, masked: str) -> None:
    assert mask(address) == masked
