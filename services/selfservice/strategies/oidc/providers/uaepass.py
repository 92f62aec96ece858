"""UAE PASS (Kratos's `provider_uaepass.go`), the UAE's national digital identity. Its endpoints sit
under `/idshub` at `issuer_url` (the staging host, say) or at `https://id.uaepass.ae`; the code is
traded with the client's credentials in an HTTP Basic header, not the body; the authorize request
asks for the web authentication level (`acr_values`), which `upstream_parameters` may change (to
the app-to-app level, say). UAE PASS publishes no discovery to tell PKCE support by, but supports
it: an unset or `auto` `pkce` means `force` (`config.py`). The user comes from `/idshub/userinfo`,
its English names read as Kratos reads them; the issuer is the base URL."""

from __future__ import annotations

from typing import Any

from services.selfservice.strategies.oidc.providers.base import Claims, OAuth2Provider, Tokens, api_claims

PRODUCTION = "https://id.uaepass.ae"
# Kratos's `UAEPassACRWeb`: the level for a sign-in in a web browser.
ACR_WEB = "urn:safelayer:tws:policies:authentication:level:low"


class UAEPass(OAuth2Provider):
    family = "uaepass"
    client_auth_in_header = True

    @property
    def base_url(self) -> str:
        # Kratos trims one trailing slash; the issuer the mappers see is this URL.
        return (self.config.issuer_url or PRODUCTION).removesuffix("/")

    def authorize_defaults(self, forced: bool) -> dict[str, str]:
        return {"acr_values": ACR_WEB}

    async def authorization_endpoint(self) -> str:
        return f"{self.base_url}/idshub/authorize"

    async def token_endpoint(self) -> str:
        return self.config.token_url or f"{self.base_url}/idshub/token"

    async def claims(self, tokens: Tokens, nonce: str, callback: dict[str, str]) -> Claims:
        user = await self._get_object(f"{self.base_url}/idshub/userinfo", tokens.access_token)

        def text(key: str) -> str | None:  # Kratos reads only strings from the answer
            value = user.get(key)
            return value if isinstance(value, str) else None

        values: dict[str, Any] = {
            "email": text("email"),
            "name": text("fullnameEN"),
            "given_name": text("firstnameEN"),
            "last_name": text("lastnameEN"),
        }
        return api_claims(self.base_url, text("sub"), values, user)
