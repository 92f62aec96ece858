"""Which provider types `selfservice.methods.oidc.config.providers[].provider` may name (Kratos's
enum; any other type fails start-up naming the key), the per-type settings refused at start-up,
where `issuer_url` sends a provider with fixed endpoints, and UAE PASS's PKCE default."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from services.selfservice.strategies.oidc.config import OidcConfig, ProviderConfig
from services.selfservice.strategies.oidc.providers import provider_for
from services.selfservice.strategies.oidc.providers.base import basic_authorization
from services.selfservice.strategies.oidc.strategy import supported_families
from shared.errors import ConfigError

KRATOS_TYPES_SUPPORTED = [
    "generic", "auth0", "google", "gitlab", "microsoft", "apple", "github", "discord",
    "facebook", "linkedin", "linkedin_v2", "slack", "spotify", "amazon", "yandex", "vk", "patreon",
    "netid", "line", "salesforce", "dingtalk", "lark", "x", "uaepass",
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


@pytest.mark.parametrize("kind", ["fedcm-test", "myspace"])
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


@pytest.mark.parametrize(
    "pkce, effective", [(None, "force"), ("auto", "force"), ("never", "never"), ("force", "force")]
)
def test_uaepass_forces_pkce_unless_told_never(pkce: str | None, effective: str) -> None:
    """UAE PASS supports PKCE but publishes no discovery to say so: Kratos turns an unset or `auto`
    `pkce` into `force`, which also sends it back to the one generic callback."""
    config = _config("uaepass", **({"pkce": pkce} if pkce else {}))
    assert config.pkce == effective
    oidc = OidcConfig("https://warden.example", (config,))
    generic = "https://warden.example/self-service/methods/oidc/callback"
    assert oidc.redirect_uri("my-uaepass") == (generic if effective == "force" else f"{generic}/my-uaepass")
    assert provider_for(config, _no_http).uses_pkce() is (effective == "force")


async def test_uaepass_lives_at_issuer_url_or_at_id_uaepass_ae() -> None:
    production = provider_for(_config("uaepass"), _no_http)
    assert await production.authorization_endpoint() == "https://id.uaepass.ae/idshub/authorize"
    assert await production.token_endpoint() == "https://id.uaepass.ae/idshub/token"
    staging = provider_for(_config("uaepass", issuer_url="https://stg-id.uaepass.ae/"), _no_http)
    assert await staging.authorization_endpoint() == "https://stg-id.uaepass.ae/idshub/authorize"


def test_basic_client_authentication_form_encodes_both_parts_before_joining_them() -> None:
    """RFC 6749 §2.3.1, as Go's oauth2 sends it: a `:` in the client id must not split the pair."""
    header = basic_authorization("id:1", "s e/c+ret")
    assert header == "Basic " + base64.b64encode(b"id%3A1:s+e%2Fc%2Bret").decode()
