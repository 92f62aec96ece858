"""GitHub (Kratos's `provider_github.go`): OAuth 2.0 only, the user read from the REST API."""

from __future__ import annotations

from typing import Any

from services.selfservice.strategies.oidc.errors import ProviderFailed
from services.selfservice.strategies.oidc.providers.base import Claims, OAuth2Provider, Tokens, api_claims


class GitHub(OAuth2Provider):
    """GitHub has no ID token; the user is read from `/user`, and the email from `/user/emails` (the
    primary verified one), since `/user` shows only a public email. `issuer_url`, when set, is the
    API base of a GitHub Enterprise server (and of the tests' fake)."""

    family = "github"
    claims_issuer = "https://github.com"
    default_scope: tuple[str, ...] = ("user:email",)
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
        addresses = [e for e in emails if isinstance(e, dict)] if isinstance(emails, list) else []
        values.update(self.email_of(addresses))
        return api_claims(self.claims_issuer, user["id"], values, raw)

    def email_of(self, addresses: list[dict[str, Any]]) -> dict[str, Any]:
        """The primary address, and only when GitHub has verified it."""
        primary = next((e for e in addresses if e.get("primary") and e.get("verified")), None)
        return {"email": primary.get("email"), "email_verified": True} if primary else {}


class GitHubApp(GitHub):
    """A GitHub App's sign-in (Kratos's `provider_github_app.go`): the same API, no default scope
    (an app's permissions are set on the app, not asked for), and the primary address whether or
    not GitHub has verified it, marked as it is; Kratos names the token URL as the issuer."""

    family = "github-app"
    default_scope = ()
    claims_issuer = "https://github.com/login/oauth/access_token"

    def email_of(self, addresses: list[dict[str, Any]]) -> dict[str, Any]:
        primary = next((e for e in addresses if e.get("primary")), addresses[-1] if addresses else None)
        if primary is None:
            return {}
        return {"email": primary.get("email"), "email_verified": primary.get("verified") is True}
