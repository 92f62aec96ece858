"""Lark / Feishu (Kratos's `provider_lark.go`): OAuth 2.0 at Feishu's passport, the user from its
`userinfo`; the subject is the app-scoped `open_id`, not `sub`."""

from __future__ import annotations

from typing import Any

from services.selfservice.strategies.oidc.providers.base import Claims, OAuth2Provider, Tokens, api_claims

_PASSPORT = "https://passport.feishu.cn/suite/passport/oauth"


class Lark(OAuth2Provider):
    family = "lark"
    auth_url = f"{_PASSPORT}/authorize"
    token_url = f"{_PASSPORT}/token"
    user_url = f"{_PASSPORT}/userinfo"
    home_domains = ("feishu.cn", "larksuite.com")

    async def claims(self, tokens: Tokens, nonce: str, callback: dict[str, str]) -> Claims:
        user = await self._get_object(self.moved(self.user_url), tokens.access_token)
        values: dict[str, Any] = {
            "name": user.get("name"),
            "nickname": user.get("name"),
            "picture": user.get("avatar_url"),
            "email": user.get("email"),
            "phone_number": user.get("mobile"),
        }
        return api_claims(self.user_url, user.get("open_id"), values, user)
