"""Every provider type Warden supports, listed once by the name Kratos's config gives it
(`selfservice.methods.oidc.config.providers[].provider`, Kratos's `supportedProviders`)."""

from __future__ import annotations

from services.selfservice.strategies.oidc.config import ProviderConfig
from services.selfservice.strategies.oidc.providers.apple import Apple
from services.selfservice.strategies.oidc.providers.base import OAuth2Provider, Request
from services.selfservice.strategies.oidc.providers.discord import Discord
from services.selfservice.strategies.oidc.providers.github import GitHub
from services.selfservice.strategies.oidc.providers.microsoft import Microsoft
from services.selfservice.strategies.oidc.providers.oidc import GitLab, Google, OIDCProvider

FAMILIES: dict[str, type[OAuth2Provider]] = {
    "generic": OIDCProvider,
    "auth0": OIDCProvider,
    "google": Google,
    "gitlab": GitLab,
    "microsoft": Microsoft,
    "apple": Apple,
    "github": GitHub,
    "discord": Discord,
}


def provider_for(config: ProviderConfig, http: Request) -> OAuth2Provider:
    return FAMILIES[config.provider](config, http)
