"""Patreon (Kratos's `provider_patreon.go`): OAuth 2.0, the user from API v2's `identity`. Kratos asks
for `prompt=none` (no consent screen once granted) and `prompt=consent` when the login is a refresh."""

from __future__ import annotations

from typing import Any

from services.selfservice.strategies.oidc.providers.base import Claims, OAuth2Provider, Tokens, api_claims


class Patreon(OAuth2Provider):
    family = "patreon"
    auth_url = "https://www.patreon.com/oauth2/authorize"
    token_url = "https://www.patreon.com/api/oauth2/token"
    identity_url = "https://www.patreon.com/api/oauth2/v2/identity?fields%5Buser%5D=first_name,last_name,url,full_name,email,image_url"
    home_domains = ("patreon.com",)

    def authorize_defaults(self, forced: bool) -> dict[str, str]:
        return {"prompt": "consent" if forced else "none"}

    async def claims(self, tokens: Tokens, nonce: str, callback: dict[str, str]) -> Claims:
        answer = await self._get_object(self.moved(self.identity_url), tokens.access_token)
        data = answer.get("data")
        data = data if isinstance(data, dict) else {}
        attributes = data.get("attributes")
        attributes = attributes if isinstance(attributes, dict) else {}
        values: dict[str, Any] = {
            "name": attributes.get("full_name"),
            "email": attributes.get("email"),
            "given_name": attributes.get("first_name"),
            "family_name": attributes.get("last_name"),
            "last_name": attributes.get("last_name"),
            "picture": attributes.get("image_url"),
        }
        return api_claims("https://www.patreon.com/", data.get("id"), values, answer)
