"""Every provider type Warden supports, listed once by the name Kratos's config gives it
(`selfservice.methods.oidc.config.providers[].provider`, Kratos's `supportedProviders`), every one of
Kratos's social sign-in types; naming any other fails start-up."""

from __future__ import annotations

from services.selfservice.strategies.oidc.config import ProviderConfig
from services.selfservice.strategies.oidc.providers.amazon import Amazon
from services.selfservice.strategies.oidc.providers.apple import Apple
from services.selfservice.strategies.oidc.providers.base import OAuth2Provider, Request
from services.selfservice.strategies.oidc.providers.dingtalk import DingTalk
from services.selfservice.strategies.oidc.providers.discord import Discord
from services.selfservice.strategies.oidc.providers.facebook import Facebook
from services.selfservice.strategies.oidc.providers.github import GitHub, GitHubApp
from services.selfservice.strategies.oidc.providers.lark import Lark
from services.selfservice.strategies.oidc.providers.line import Line
from services.selfservice.strategies.oidc.providers.linkedin import LinkedIn, LinkedInV2
from services.selfservice.strategies.oidc.providers.microsoft import Microsoft
from services.selfservice.strategies.oidc.providers.netid import NetID
from services.selfservice.strategies.oidc.providers.oidc import GitLab, Google, OIDCProvider
from services.selfservice.strategies.oidc.providers.patreon import Patreon
from services.selfservice.strategies.oidc.providers.salesforce import Salesforce
from services.selfservice.strategies.oidc.providers.slack import Slack
from services.selfservice.strategies.oidc.providers.spotify import Spotify
from services.selfservice.strategies.oidc.providers.uaepass import UAEPass
from services.selfservice.strategies.oidc.providers.vk import VK
from services.selfservice.strategies.oidc.providers.x import X
from services.selfservice.strategies.oidc.providers.yandex import Yandex

FAMILIES: dict[str, type[OAuth2Provider]] = {
    "generic": OIDCProvider,
    "auth0": OIDCProvider,
    "google": Google,
    "gitlab": GitLab,
    "microsoft": Microsoft,
    "apple": Apple,
    "github": GitHub,
    "github-app": GitHubApp,
    "discord": Discord,
    "facebook": Facebook,
    "linkedin": LinkedIn,
    "linkedin_v2": LinkedInV2,
    "slack": Slack,
    "spotify": Spotify,
    "amazon": Amazon,
    "yandex": Yandex,
    "vk": VK,
    "patreon": Patreon,
    "netid": NetID,
    "line": Line,
    "salesforce": Salesforce,
    "dingtalk": DingTalk,
    "lark": Lark,
    "x": X,
    "uaepass": UAEPass,
}


def provider_for(config: ProviderConfig, http: Request) -> OAuth2Provider:
    return FAMILIES[config.provider](config, http)
