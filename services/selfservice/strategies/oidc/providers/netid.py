"""netID (Kratos's `provider_netid.go`): OpenID Connect through the netID broker, with its fixed
`authorize`, `token` and `userinfo` endpoints and keys from its discovery; `openid` is always asked
for. The ID token is verified and names the user; the other claims are the userinfo answer's."""

from __future__ import annotations

from services.selfservice.strategies.oidc.errors import TokenInvalid
from services.selfservice.strategies.oidc.providers.base import Claims, Tokens, normalize
from services.selfservice.strategies.oidc.providers.oidc import OIDCProvider

BROKER = "https://broker.netid.de"


class NetID(OIDCProvider):
    family = "netid"
    default_issuer = f"{BROKER}/"
    home_domains = ("netid.de",)

    @property
    def issuer(self) -> str:
        return self.moved(self.default_issuer).rstrip("/")

    async def authorization_endpoint(self) -> str:
        return self.moved(f"{BROKER}/authorize")

    async def token_endpoint(self) -> str:
        return self.config.token_url or self.moved(f"{BROKER}/token")

    async def claims(self, tokens: Tokens, nonce: str, callback: dict[str, str]) -> Claims:
        if not tokens.id_token:
            raise TokenInvalid("the provider answered without an ID token")
        verified = await self.verify_id_token(tokens.id_token, nonce)
        info = await self._get_object(self.moved(f"{BROKER}/userinfo"), tokens.access_token)
        return normalize(info, str(verified.get("iss") or self.issuer), str(verified.get("sub") or ""))
