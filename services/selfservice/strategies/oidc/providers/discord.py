"""Discord (Kratos's `provider_discord.go`): OAuth 2.0 only, the user read from `/users/@me`."""

from __future__ import annotations

from typing import Any

from services.selfservice.strategies.oidc.errors import ProviderFailed
from services.selfservice.strategies.oidc.providers.base import Claims, OAuth2Provider, Tokens


class Discord(OAuth2Provider):
    family = "discord"
    default_scope = ("identify", "email")
    auth_url = "https://discord.com/oauth2/authorize"
    token_url = "https://discord.com/api/oauth2/token"

    @property
    def api(self) -> str:
        return (self.config.issuer_url or "https://discord.com/api").rstrip("/")

    def supports_pkce(self) -> bool:
        return True

    async def claims(self, tokens: Tokens, nonce: str, callback: dict[str, str]) -> Claims:
        user = await self._get_json(f"{self.api}/users/@me", tokens.access_token)
        if not isinstance(user, dict) or not user.get("id"):
            raise ProviderFailed("Discord's /users/@me answer has no id")
        values: dict[str, Any] = {
            "nickname": user.get("username"),
            "preferred_username": user.get("username"),
            "name": user.get("global_name") or user.get("username"),
            "locale": user.get("locale"),
        }
        if user.get("avatar"):
            values["picture"] = f"https://cdn.discordapp.com/avatars/{user['id']}/{user['avatar']}.png"
        if user.get("email"):
            values.update(email=user["email"], email_verified=bool(user.get("verified")))
        return Claims("https://discord.com", str(user["id"]), {k: v for k, v in values.items() if v}, user)
