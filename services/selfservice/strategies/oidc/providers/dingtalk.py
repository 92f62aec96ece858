"""DingTalk (Kratos's `provider_dingtalk.go`): its own OAuth 2.0 dialect. The code is traded with a
JSON body in camelCase (`clientId`, `clientSecret`, `code`, `grantType`) for an `accessToken`; the
user comes from `contact/users/me`, the token in the `x-acs-dingtalk-access-token` header; errors
come as `code` and `message`. Kratos always asks for `prompt=consent`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.selfservice.strategies.oidc.errors import ProviderFailed
from services.selfservice.strategies.oidc.providers.base import (
    Claims,
    OAuth2Provider,
    Tokens,
    api_claims,
    tokens_from,
)


class DingTalk(OAuth2Provider):
    family = "dingtalk"
    auth_url = "https://login.dingtalk.com/oauth2/auth"
    token_url = "https://api.dingtalk.com/v1.0/oauth2/userAccessToken"
    user_url = "https://api.dingtalk.com/v1.0/contact/users/me"
    home_domains = ("dingtalk.com",)

    def extra_authorize_parameters(self, nonce: str) -> dict[str, str]:
        return {"prompt": "consent"}

    async def exchange(
        self, code: str, redirect_uri: str, code_verifier: str | None, callback: Mapping[str, str] | None = None
    ) -> Tokens:
        body = {
            "clientId": self.config.client_id,
            "clientSecret": self.client_secret(),
            "code": code,
            "grantType": "authorization_code",
        }
        answer = await self._request("POST", await self.token_endpoint(), json=body)
        if not isinstance(answer, dict) or answer.get("code"):
            code_ = answer.get("code") if isinstance(answer, dict) else None
            raise ProviderFailed(f"DingTalk refused the code: {code_!r}")
        return tokens_from(answer, "accessToken", "refreshToken")

    async def claims(self, tokens: Tokens, nonce: str, callback: dict[str, str]) -> Claims:
        user = await self._get_object(
            self.moved(self.user_url), None, {"x-acs-dingtalk-access-token": tokens.access_token}
        )
        if user.get("message"):
            raise ProviderFailed(f"DingTalk's users/me answered {user.get('code')!r}")
        values: dict[str, Any] = {
            "nickname": user.get("nick"),
            "name": user.get("nick"),
            "picture": user.get("avatarUrl"),
            "email": user.get("email"),
        }
        return api_claims(self.user_url, user.get("openId"), values, user)
