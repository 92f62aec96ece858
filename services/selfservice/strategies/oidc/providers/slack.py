"""Slack (Kratos's `provider_slack.go`): "Sign in with Slack" on Slack's first OAuth endpoints
(`oauth/authorize`, `api/oauth.access`; v2 would want `user_scope`), the user from
`users.identity`. Slack answers errors with HTTP 200 and `ok: false`. Every configured scope must
have been granted (the token answer lists them, comma-separated); Kratos takes the address as verified."""

from __future__ import annotations

from typing import Any

from services.selfservice.strategies.oidc.errors import ProviderFailed
from services.selfservice.strategies.oidc.providers.base import Claims, OAuth2Provider, Tokens, api_claims


class Slack(OAuth2Provider):
    family = "slack"
    auth_url = "https://slack.com/oauth/authorize"
    token_url = "https://slack.com/api/oauth.access"
    identity_url = "https://slack.com/api/users.identity"
    home_domains = ("slack.com",)

    async def claims(self, tokens: Tokens, nonce: str, callback: dict[str, str]) -> Claims:
        self.require_granted([s.strip() for s in str(tokens.answer.get("scope") or "").split(",") if s.strip()])
        answer = await self._get_object(self.moved(self.identity_url), tokens.access_token)
        user, team = answer.get("user"), answer.get("team")
        if not answer.get("ok") or not isinstance(user, dict):
            raise ProviderFailed(f"Slack's users.identity answered {answer.get('error')!r}")
        values: dict[str, Any] = {
            "name": user.get("name"),
            "preferred_username": user.get("name"),
            "nickname": user.get("name"),
            "email": user.get("email"),
            "email_verified": True,
            "picture": user.get("image_512"),
            "team": team.get("id") if isinstance(team, dict) else None,
        }
        return api_claims("https://slack.com/oauth/", user.get("id"), values, answer)
