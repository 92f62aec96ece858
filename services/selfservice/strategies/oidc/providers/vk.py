"""VK (Kratos's `provider_vk.go`), in its two generations. Classic VK OAuth (`oauth.vk.com`) puts the
address in the token answer, beside the token. VK ID (`id.vk.com`), which Kratos uses when `pkce`
is `force`, sends a `device_id` with the callback that the token request must repeat, and gives the
address and phone from `oauth2/user_info`. Either way the profile comes from `users.get` (API
version 5.103, the token in the query). VK's `sex` is a number and its `bdate` is D.M.YYYY; Kratos
turns them into `gender` and an ISO `birthdate`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from services.selfservice.strategies.oidc.errors import ProviderFailed
from services.selfservice.strategies.oidc.providers.base import Claims, OAuth2Provider, Tokens, api_claims

_GENDERS = {1: "female", 2: "male"}


class VK(OAuth2Provider):
    family = "vk"
    users_url = "https://api.vk.com/method/users.get"
    user_info_url = "https://id.vk.com/oauth2/user_info"
    home_domains = ("vk.com",)

    @property
    def vk_id(self) -> bool:
        return self.config.pkce == "force"

    async def authorization_endpoint(self) -> str:
        return self.moved("https://id.vk.com/authorize" if self.vk_id else "https://oauth.vk.com/authorize")

    async def token_endpoint(self) -> str:
        fixed = "https://id.vk.com/oauth2/auth" if self.vk_id else "https://oauth.vk.com/access_token"
        return self.config.token_url or self.moved(fixed)

    def extra_token_parameters(self, callback: Mapping[str, str]) -> dict[str, str]:
        device = callback.get("device_id")
        return {"device_id": device} if self.vk_id and device else {}

    async def claims(self, tokens: Tokens, nonce: str, callback: dict[str, str]) -> Claims:
        query = urlencode({"fields": "photo_200,nickname,bdate,sex", "access_token": tokens.access_token, "v": "5.103"})
        answer = await self._get_object(f"{self.moved(self.users_url)}?{query}", tokens.access_token)
        users = answer.get("response")
        if not isinstance(users, list) or not users or not isinstance(users[0], dict):
            raise ProviderFailed("VK did not return a user in the users.get request")
        user = users[0]
        email, phone = await self._contact(tokens)
        values: dict[str, Any] = {
            "given_name": user.get("first_name"),
            "family_name": user.get("last_name"),
            "nickname": user.get("nickname"),
            "picture": user.get("photo_200"),
            "email": email,
            "phone_number": phone,
            "gender": _GENDERS.get(user["sex"]) if isinstance(user.get("sex"), int) else None,
            "birthdate": _birthdate(user.get("bdate")),
        }
        return api_claims(self.users_url, user.get("id"), values, user)

    async def _contact(self, tokens: Tokens) -> tuple[str | None, str | None]:
        if not self.vk_id:
            email = tokens.answer.get("email")
            return (email if isinstance(email, str) else None), None
        body = {"client_id": self.config.client_id, "access_token": tokens.access_token}
        answer = await self._request("POST", self.moved(self.user_info_url), data=body)
        user = answer.get("user") if isinstance(answer, dict) else None
        if not isinstance(user, dict):
            return None, None
        phone = str(user.get("phone") or "")
        if phone and not phone.startswith("+"):
            phone = f"+{phone}"
        return (str(user.get("email") or "") or None), (phone or None)


def _birthdate(value: Any) -> str | None:
    """D.M.YYYY as YYYY-MM-DD. VK leaves the year out when the user hides it: Kratos then fails the
    sign-in; Warden leaves the birthdate out instead, since no mapper can use half a date."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%d.%m.%Y").date().isoformat()
    except ValueError:
        return None
