"""Which provider types `selfservice.methods.oidc.config.providers[].provider` may name (Kratos's
enum, less those Warden does not support yet, which fail start-up naming the key), the per-type
settings refused at start-up, and where `issuer_url` sends a provider with fixed endpoints."""

from __future__ import annotations

from typing import Any

import pytest

from services.selfservice.strategies.oidc.config import ProviderConfig
from services.selfservice.strategies.oidc.providers import provider_for
from services.selfservice.strategies.oidc.strategy import supported_families
from shared.errors import ConfigError

KRATOS_TYPES_SUPPORTED = [
    "generic", "auth0", "google", "gitlab", "microsoft", "apple", "github", "discord",
    "facebook", "linkedin", "linkedin_v2", "slack", "spotify", "amazon", "yandex", "vk", "patreon",
    "netid", "line", "salesforce", "dingtalk", "lark", "x",
]  # fmt: skip


def _config(kind: str, **extra: Any) -> ProviderConfig:
    raw = {"id": f"my-{kind}", "provider": kind, "client_id": "c", "client_secret": "s", "mapper_url": "base64://e30="}
    return ProviderConfig.from_dict({**raw, **extra}, supported_families())


def _no_http(*_: Any, **__: Any) -> Any:
    raise AssertionError("no request is made while building a provider")


@pytest.mark.parametrize("kind", KRATOS_TYPES_SUPPORTED)
def test_every_supported_kratos_type_is_accepted(kind: str) -> None:
    extra = {"issuer_url": "https://login.salesforce.com"} if kind == "salesforce" else {}
    provider = provider_for(_config(kind, **extra), _no_http)
    assert provider.config.provider == kind


@pytest.mark.parametrize("kind", ["uaepass", "fedcm-test", "myspace"])
def test_other_types_fail_start_up_naming_the_key_and_what_is_supported(kind: str) -> None:
    with pytest.raises(ConfigError) as refused:
        _config(kind)
    message = str(refused.value)
    assert f"selfservice.methods.oidc.config.providers[my-{kind}].provider: {kind!r} is not supported" in message
    assert "facebook" in message and "lark" in message


def test_amazon_refuses_a_scope_amazon_does_not_know() -> None:
    with pytest.raises(ConfigError, match=r"providers\[my-amazon\]\.scope: email not supported by Amazon"):
        provider_for(_config("amazon", scope=["profile", "email"]), _no_http)


def test_salesforce_needs_the_orgs_login_url() -> None:
    with pytest.raises(ConfigError, match=r"providers\[my-salesforce\]\.issuer_url"):
        provider_for(_config("salesforce"), _no_http)


async def test_issuer_url_moves_fixed_endpoints_unless_it_names_the_providers_own_host() -> None:
    # A Kratos config may carry Facebook's own address, which Kratos ignores: so does Warden.
    own = provider_for(_config("facebook", issuer_url="https://www.facebook.com"), _no_http)
    assert await own.token_endpoint() == "https://graph.facebook.com/oauth/access_token"
    proxy = provider_for(_config("facebook", issuer_url="https://graph-proxy.example/"), _no_http)
    assert await proxy.token_endpoint() == "https://graph-proxy.example/oauth/access_token"
    assert await proxy.authorization_endpoint() == "https://graph-proxy.example/dialog/oauth"
    named = provider_for(_config("yandex", token_url="https://token.example/t"), _no_http)
    assert await named.token_endpoint() == "https://token.example/t"  # `token_url` still wins
