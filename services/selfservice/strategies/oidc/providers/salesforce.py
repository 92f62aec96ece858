"""Salesforce (Kratos's `provider_salesforce.go`): `issuer_url` is the org's login host (for example
`https://login.salesforce.com` or a My Domain); the endpoints are its `/services/oauth2/*`, and the
claims are its userinfo answer, in OpenID Connect's names. Salesforce has sent `updated_at` as an
RFC 3339 string, which Kratos turns into the number of seconds the standard says it is."""

from __future__ import annotations

from datetime import datetime

from services.selfservice.strategies.oidc.config import ProviderConfig
from services.selfservice.strategies.oidc.errors import ProviderFailed
from services.selfservice.strategies.oidc.providers.base import Claims, OAuth2Provider, Request, Tokens, normalize
from shared.errors import ConfigError


class Salesforce(OAuth2Provider):
    family = "salesforce"

    def __init__(self, config: ProviderConfig, http: Request) -> None:
        super().__init__(config, http)
        if not config.issuer_url:
            raise ConfigError(
                f"config: selfservice.methods.oidc.config.providers[{config.id}].issuer_url: Salesforce needs the "
                "org's login URL (for example https://login.salesforce.com)"
            )

    @property
    def base(self) -> str:
        return self.config.issuer_url.rstrip("/")

    async def authorization_endpoint(self) -> str:
        return f"{self.base}/services/oauth2/authorize"

    async def token_endpoint(self) -> str:
        return self.config.token_url or f"{self.base}/services/oauth2/token"

    async def claims(self, tokens: Tokens, nonce: str, callback: dict[str, str]) -> Claims:
        info = await self._get_object(f"{self.base}/services/oauth2/userinfo", tokens.access_token)
        updated = info.get("updated_at")
        if isinstance(updated, str):
            try:
                info["updated_at"] = int(datetime.fromisoformat(updated.replace("Z", "+00:00")).timestamp())
            except ValueError:
                raise ProviderFailed("Salesforce's userinfo has an updated_at that is not a time") from None
        return normalize(info, str(info.get("iss") or self.config.issuer_url))
