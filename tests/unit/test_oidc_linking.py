"""Which claims `account_linking_mode: automatic` trusts (linking.py), in the cases a real provider
is not easily made to send (look-alike addresses, a missing claim), and which configs it starts
with. The sign-ins themselves: tests/integration/test_oidc_account_linking.py."""

from __future__ import annotations

from typing import Any

import pytest

from services.selfservice.strategies.oidc.config import ProviderConfig
from services.selfservice.strategies.oidc.linking import CONFIRM, vouched_email
from services.selfservice.strategies.oidc.providers import Claims, normalize
from services.selfservice.strategies.oidc.strategy import supported_families
from shared.errors import ConfigError


def _provider(kind: str = "google", **extra: Any) -> ProviderConfig:
    raw = {"id": "p", "provider": kind, "client_id": "c", "mapper_url": "base64://e30="}
    return ProviderConfig.from_dict({**raw, "account_linking_mode": "automatic", **extra}, supported_families())


def _claims(**values: Any) -> Claims:
    return normalize({"sub": "subject", **values}, "https://issuer.example")


@pytest.mark.parametrize(
    ("kind", "claims", "expected"),
    [
        ("google", {"email": "Ada@Gmail.com", "email_verified": True}, "ada@gmail.com"),
        ("google", {"email": "ada@gmail.com", "email_verified": "true"}, "ada@gmail.com"),  # Apple's string
        ("google", {"email": "ada@gmail.com", "email_verified": False}, None),
        ("google", {"email": "ada@gmail.com", "email_verified": "false"}, None),
        ("google", {"email": "ada@gmail.com"}, None),  # no claim says it is verified
        ("google", {"email": "ada@gmail.com", "email_verified": 1}, None),  # only a boolean counts
        ("google", {"email_verified": True}, None),
        ("google", {"email": "ada", "email_verified": True}, None),
        ("google", {"email": "ada@example.com", "email_verified": True}, None),  # not a consumer account
        ("google", {"email": "ada@gmail.com", "email_verified": True, "hd": "gmail.com"}, None),  # Workspace
        ("google", {"email": "ada@gmail.com.example", "email_verified": True}, None),
        ("google", {"email": "ada@ｇmail.com", "email_verified": True}, None),  # folds to gmail.com: not it
        ("apple", {"email": "ada@example.com", "email_verified": True}, "ada@example.com"),
        ("apple", {"email": "ada@ｅxample.com", "email_verified": True}, None),  # full-width "ｅ"
        ("apple", {"email": "ad\u200ba@example.com", "email_verified": True}, None),  # an invisible character
    ],
)
def test_what_automatic_linking_takes_from_the_claims(kind: str, claims: dict[str, Any], expected: str | None) -> None:
    assert vouched_email(_provider(kind), _claims(**claims)) == expected


def test_the_default_mode_takes_nothing() -> None:
    verified = _claims(email="ada@gmail.com", email_verified=True)
    for config in ({}, {"account_linking_mode": CONFIRM}):
        raw = {"id": "p", "provider": "google", "client_id": "c", "mapper_url": "base64://e30=", **config}
        provider = ProviderConfig.from_dict(raw, supported_families())
        assert provider.account_linking_mode == CONFIRM
        assert vouched_email(provider, verified) is None


@pytest.mark.parametrize("kind", ["generic", "github", "microsoft", "auth0"])
def test_automatic_on_a_type_kratos_does_not_link_for_fails_start_up(kind: str) -> None:
    with pytest.raises(ConfigError, match=r"providers\[p\]\.account_linking_mode.*google"):
        _provider(kind)


def test_an_unknown_mode_fails_start_up() -> None:
    with pytest.raises(ConfigError, match="account_linking_mode"):
        _provider(account_linking_mode="verify_with_existing_credential")
