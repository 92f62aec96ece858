"""Yandex ID (Kratos's `provider_yandex.go`): OAuth 2.0, the user from `login.yandex.ru/info`, which
takes the token as the `oauth_token` query parameter. The avatar is a URL Kratos builds from its id
unless Yandex says the user has none. Yandex says nothing of the address being verified."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from services.selfservice.strategies.oidc.providers.base import Claims, OAuth2Provider, Tokens, api_claims


class Yandex(OAuth2Provider):
    family = "yandex"
    auth_url = "https://oauth.yandex.com/authorize"
    token_url = "https://oauth.yandex.com/token"
    info_url = "https://login.yandex.ru/info"
    home_domains = ("yandex.com", "yandex.ru")

    async def claims(self, tokens: Tokens, nonce: str, callback: dict[str, str]) -> Claims:
        query = urlencode({"format": "json", "oauth_token": tokens.access_token})
        user = await self._get_object(f"{self.moved(self.info_url)}?{query}", tokens.access_token)
        phone = user.get("default_phone")
        avatar = user.get("default_avatar_id")
        values: dict[str, Any] = {
            "given_name": user.get("first_name"),
            "family_name": user.get("last_name"),
            "picture": None
            if user.get("is_avatar_empty") or not avatar
            else f"https://avatars.yandex.net/get-yapic/{avatar}/islands-200",
            "email": user.get("default_email"),
            "phone_number": phone.get("number") if isinstance(phone, dict) else None,
            "gender": user.get("sex"),
            "birthdate": user.get("birthday"),
        }
        return api_claims("https://login.yandex.ru/info", user.get("id"), values, user)
