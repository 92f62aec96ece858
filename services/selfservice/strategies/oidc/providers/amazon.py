"""Login with Amazon (Kratos's `provider_amazon.go`): OAuth 2.0, the customer from
`api.amazon.com/user/profile` (token in `x-amz-access-token`). Amazon knows three scopes: Kratos
refuses others at sign-in, Warden at start-up. Amazon publishes no discovery, so `pkce: auto` means
no PKCE (Kratos refuses an explicit `auto`, but treats a missing `pkce` so). Kratos maps the postal code to `zoneinfo`, and so does Warden,
since mappers written for Kratos read it there."""

from __future__ import annotations

from typing import Any

from services.selfservice.strategies.oidc.config import ProviderConfig
from services.selfservice.strategies.oidc.providers.base import Claims, OAuth2Provider, Request, Tokens, api_claims
from shared.errors import ConfigError

SUPPORTED_SCOPES = ("profile", "profile:user_id", "postal_code")


class Amazon(OAuth2Provider):
    family = "amazon"
    auth_url = "https://www.amazon.com/ap/oa"
    token_url = "https://api.amazon.com/auth/o2/token"
    profile_url = "https://api.amazon.com/user/profile"
    home_domains = ("amazon.com",)

    def __init__(self, config: ProviderConfig, http: Request) -> None:
        super().__init__(config, http)
        key = f"config: selfservice.methods.oidc.config.providers[{config.id}]"
        unknown = [s for s in config.scope if s not in SUPPORTED_SCOPES]
        if unknown:
            supported = ", ".join(SUPPORTED_SCOPES)
            raise ConfigError(f"{key}.scope: {', '.join(unknown)} not supported by Amazon (supported: {supported})")

    async def claims(self, tokens: Tokens, nonce: str, callback: dict[str, str]) -> Claims:
        profile = await self._get_object(
            self.moved(self.profile_url), tokens.access_token, {"x-amz-access-token": tokens.access_token}
        )
        values: dict[str, Any] = {
            "name": profile.get("name"),
            "email": profile.get("email"),
            "zoneinfo": profile.get("postal_code"),
        }
        return api_claims(self.token_url, profile.get("user_id"), values, profile)
