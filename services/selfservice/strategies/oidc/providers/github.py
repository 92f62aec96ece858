"""GitHub (Kratos's `provider_github.go`): OAuth 2.0 only, the user read from the REST API."""

from __future__ import annotations

from typing import Any

from services.selfservice.strategies.oidc.errors import ProviderFailed
from services.selfservice.strategies.oidc.providers.base import Claims, OAuth2Provider, Tokens


class GitHub(OAuth2Provider):
    """GitHub has no ID token; the user is read from `/user`, and the email from `/user/emails` (the
    primary verified one), since `/user` shows only a public email. `issuer_url`, when set, is the
    API base of a GitHub Enterprise server (and of the tests' fake)."""

    family = "github"
    default_scope = ("user:email",)
    auth_url = "https://github.com/login/oauth/authorize"
    token_url = "https://github.com/login/oauth/access_token"

    @property
    def api(self) -> str:
        return (self.config.issuer_url or "https://api.github.com").rstrip("/")

    async def claims(self, tokens: Tokens, nonce: str, callback: dict[str, str]) -> Claims:
        user = await self._get_json(f"{self.api}/user", tokens.access_token)
        if not isinstance(user, dict) or user.get("id") is None:
            raise ProviderFailed("GitHub's /user answer has no id")
        raw = {**user}
        values: dict[str, Any] = {
            "name": user.get("name"),
            "nickname": user.get("login"),
            "preferred_username": user.get("login"),
            "picture": user.get("avatar_url"),
            "website": user.get("blog"),
            "profile": user.get("html_url"),
        }
        emails = await self._get_json(f"{self.api}/user/emails", tokens.access_token)
        primary = (
            next(
                (e for e in emails if isinstance(e, dict) and e.get("primary") and e.get("verified")),
                None,
            )
            if isinstance(emails, list)
            else None
        )
        if primary is not None:
            values.update(email=primary.get("email"), email_verified=True)
        return Claims("https://github.com", str(user["id"]), {k: v for k, v in values.items() if v}, raw)
