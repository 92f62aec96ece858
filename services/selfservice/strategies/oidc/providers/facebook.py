"""Facebook (Kratos's `provider_facebook.go`): OpenID Connect by name (its discovery, its ID tokens
for native Limited Login), but the browser flow reads the user from the Graph API, with the
`appsecret_proof` Facebook asks of server-side calls: HMAC-SHA256 of the access token, keyed with
the app secret, in hex. The unversioned `/me` is used, as Kratos does, so that Graph API version
retirements do not break sign-in."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import urlencode

from services.selfservice.strategies.oidc.providers.base import Claims, Tokens, api_claims
from services.selfservice.strategies.oidc.providers.oidc import OIDCProvider

_FIELDS = "id,name,first_name,last_name,middle_name,email,picture,birthday,gender"


class Facebook(OIDCProvider):
    family = "facebook"
    default_issuer = "https://www.facebook.com"
    auth_url = "https://facebook.com/dialog/oauth"
    token_url = "https://graph.facebook.com/oauth/access_token"
    me_url = "https://graph.facebook.com/me"
    home_domains = ("facebook.com",)

    @property
    def issuer(self) -> str:
        return self.moved(self.default_issuer)

    async def authorization_endpoint(self) -> str:
        return self.moved(self.auth_url)

    async def token_endpoint(self) -> str:
        return self.config.token_url or self.moved(self.token_url)

    def appsecret_proof(self, access_token: str) -> str:
        return hmac.new(self.config.client_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()

    async def claims(self, tokens: Tokens, nonce: str, callback: dict[str, str]) -> Claims:
        query = urlencode({"fields": _FIELDS, "appsecret_proof": self.appsecret_proof(tokens.access_token)})
        user = await self._get_object(f"{self.moved(self.me_url)}?{query}", tokens.access_token)
        picture = user.get("picture")
        data = picture.get("data") if isinstance(picture, dict) else None
        values: dict[str, Any] = {
            "name": user.get("name"),
            "given_name": user.get("first_name"),
            "family_name": user.get("last_name"),
            "middle_name": user.get("middle_name"),
            "nickname": user.get("name"),
            "preferred_username": user.get("name"),
            "picture": data.get("url") if isinstance(data, dict) else None,
            "email": user.get("email"),
            # Facebook shares only addresses it has confirmed; Kratos takes any it sends as verified.
            "email_verified": bool(user.get("email")),
            "gender": user.get("gender"),
            "birthdate": user.get("birthday"),
        }
        # Kratos's issuer is the Graph URL it called; without the per-token proof, so it is stable.
        return api_claims(self.me_url, user.get("id"), values, user)
