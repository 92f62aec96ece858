"""Spotify (Kratos's `provider_spotify.go`): OAuth 2.0, the user from the Web API's `/v1/me`. Every
configured scope must have been granted (the token answer lists them, space-separated)."""

from __future__ import annotations

from typing import Any

from services.selfservice.strategies.oidc.providers.base import Claims, OAuth2Provider, Tokens, api_claims


class Spotify(OAuth2Provider):
    family = "spotify"
    auth_url = "https://accounts.spotify.com/authorize"
    token_url = "https://accounts.spotify.com/api/token"
    me_url = "https://api.spotify.com/v1/me"
    home_domains = ("spotify.com",)

    async def claims(self, tokens: Tokens, nonce: str, callback: dict[str, str]) -> Claims:
        self.require_granted(str(tokens.answer.get("scope") or "").split())
        user = await self._get_object(self.moved(self.me_url), tokens.access_token)
        images = user.get("images")
        first = images[0] if isinstance(images, list) and images and isinstance(images[0], dict) else {}
        urls = user.get("external_urls")
        values: dict[str, Any] = {
            "name": user.get("display_name"),
            "nickname": user.get("display_name"),
            "email": user.get("email"),
            "picture": first.get("url"),
            "profile": urls.get("spotify") if isinstance(urls, dict) else None,
            "birthdate": user.get("birthdate"),
        }
        return api_claims(self.token_url, user.get("id"), values, user)
