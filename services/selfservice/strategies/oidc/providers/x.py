"""X, formerly Twitter (Kratos's `provider_x.go`): OAuth 1.0a, not 2.0. Before the redirect a request
token is fetched (signed with the consumer key and secret, `client_id` and `client_secret`); the
user authorizes it at `oauth/authenticate`; the callback's `oauth_token` and `oauth_verifier` are
traded for an access token and its secret, which sign the call to `verify_credentials`.

OAuth 1.0a has no `state`. As Kratos does, the callback URL registered with the request token
carries the flow's `state` and a placeholder `code=unused`, so the callback is checked as every
other provider's is. Requests are signed with HMAC-SHA1 by authlib's OAuth 1 client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from authlib.oauth1 import ClientAuth

from services.selfservice.strategies.oidc.errors import OidcError, ProviderFailed
from services.selfservice.strategies.oidc.providers.base import (
    Authorization,
    Claims,
    OAuth2Provider,
    Tokens,
    api_claims,
)

_API = "https://api.twitter.com"
_USER = f"{_API}/1.1/account/verify_credentials.json"


class X(OAuth2Provider):
    family = "x"
    home_domains = ("twitter.com", "x.com")

    async def authorize(
        self,
        redirect_uri: str,
        state: str,
        nonce: str,
        code_verifier: str,
        upstream: dict[str, str],
        *,
        forced: bool = False,
    ) -> Authorization:
        # No percent-escapes in it: authlib signs a callback URL's escapes decoded, while the header
        # carries them as they are, so X would find the signature wrong. The state's ":" may stay.
        callback = f"{redirect_uri}?state={quote(state, safe=':')}&code=unused"
        signer = ClientAuth(self.config.client_id, self.config.client_secret, redirect_uri=callback)
        answer = await self._signed_form("POST", self.moved(f"{_API}/oauth/request_token"), signer)
        token = answer.get("oauth_token")
        if not token or answer.get("oauth_callback_confirmed") != "true":
            raise ProviderFailed("X did not issue a request token")
        endpoint = self.config.auth_url or self.moved(f"{_API}/oauth/authenticate")
        return Authorization(f"{endpoint}?{urlencode({'oauth_token': token})}", None)

    async def exchange(
        self, code: str, redirect_uri: str, code_verifier: str | None, callback: Mapping[str, str] | None = None
    ) -> Tokens:
        callback = callback or {}
        if callback.get("denied"):
            raise OidcError("the user denied the request at X")
        token, verifier = callback.get("oauth_token"), callback.get("oauth_verifier")
        if not token or not verifier:
            raise ProviderFailed("X's callback carries no oauth_token and oauth_verifier")
        # Kratos signs the exchange without the request token's secret, and X accepts that.
        signer = ClientAuth(
            self.config.client_id, self.config.client_secret, token=token, token_secret="", verifier=verifier
        )
        endpoint = self.config.token_url or self.moved(f"{_API}/oauth/access_token")
        answer = await self._signed_form("POST", endpoint, signer)
        if not answer.get("oauth_token") or not answer.get("oauth_token_secret"):
            raise ProviderFailed("X did not issue an access token")
        return Tokens(answer["oauth_token"], answer=dict(answer))

    async def claims(self, tokens: Tokens, nonce: str, callback: dict[str, str]) -> Claims:
        fixed = _USER + ("?include_email=true" if "email" in self.config.scope else "")
        url = self.moved(fixed)
        signer = ClientAuth(
            self.config.client_id,
            self.config.client_secret,
            token=tokens.access_token,
            token_secret=str(tokens.answer.get("oauth_token_secret") or ""),
        )
        _, headers, _ = signer.sign("GET", url, {}, b"")
        user = await self._get_object(url, None, dict(headers))
        values: dict[str, Any] = {
            "name": user.get("name"),
            "picture": user.get("profile_image_url_https"),
            "email": user.get("email"),
            "preferred_username": user.get("screen_name"),
            "website": user.get("url"),
        }
        return api_claims(fixed, user.get("id_str"), values, user)  # Kratos's issuer: the URL it called

    async def _signed_form(self, method: str, url: str, signer: ClientAuth) -> dict[str, str]:
        _, headers, _ = signer.sign(method, url, {}, b"")
        raw = await self._send(method, url, headers=dict(headers))
        return dict(parse_qsl(raw.decode(errors="replace")))
