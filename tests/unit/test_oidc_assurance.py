"""When a provider's claims make a social sign-in aal2 (Kratos's `AALForClaims`), in the cases a
real provider is not easily made to send: an empty `acr`, an `amr` that is not a list, a value
that differs in case."""

from __future__ import annotations

from typing import Any

import pytest

from services.selfservice.strategies.oidc.assurance import aal_for, upstream
from services.selfservice.strategies.oidc.config import ProviderConfig
from services.selfservice.strategies.oidc.providers import Claims
from services.selfservice.strategies.oidc.strategy import supported_families


def _provider(**extra: Any) -> ProviderConfig:
    raw = {"id": "p", "provider": "generic", "client_id": "c", "mapper_url": "base64://e30="}
    return ProviderConfig.from_dict({**raw, **extra}, supported_families())


def _claims(**values: Any) -> Claims:
    return Claims("https://issuer.example", "subject", values)


BOTH = {"aal2_acr_values": ["urn:mfa", ""], "aal2_amr_values": ["mfa", "", "hwk"]}


@pytest.mark.parametrize(
    ("config", "claims", "expected"),
    [
        ({}, {"acr": "urn:mfa", "amr": ["mfa"]}, "aal1"),  # no lists: nothing a provider says counts
        (BOTH, {"acr": "urn:mfa"}, "aal2"),
        (BOTH, {"acr": "URN:MFA"}, "aal1"),  # values are compared exactly
        (BOTH, {"acr": ""}, "aal1"),  # an empty acr never matches, even an empty configured value
        (BOTH, {"amr": ["pwd", "hwk"]}, "aal2"),  # any one listed value
        (BOTH, {"amr": ["pwd", ""]}, "aal1"),
        (BOTH, {"amr": "mfa"}, "aal1"),  # RFC 8176's amr is a list: a bare string says nothing
        (BOTH, {"acr": "urn:basic", "amr": ["mfa"]}, "aal2"),  # either claim suffices
    ],
)
def test_the_level_a_provider_s_claims_prove(config: dict[str, Any], claims: dict[str, Any], expected: str) -> None:
    assert aal_for(_provider(**config), _claims(**claims)) == expected


def test_what_the_provider_claimed_is_shown_as_it_came() -> None:
    assert upstream(_claims(acr="urn:basic", amr=["pwd", 7])) == {"upstream_acr": "urn:basic", "upstream_amr": ["pwd"]}
    assert upstream(_claims(amr="pwd")) == {}
    assert upstream(_claims()) == {}
