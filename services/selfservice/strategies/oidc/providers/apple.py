"""Sign in with Apple (Kratos's `provider_apple.go`)."""

from __future__ import annotations

import time

from joserfc import jwt
from joserfc.jwk import ECKey

from services.selfservice.strategies.oidc.providers.base import Claims, Tokens
from services.selfservice.strategies.oidc.providers.oidc import OIDCProvider
from shared import json_codec


class Apple(OIDCProvider):
    """Sign in with Apple: the callback arrives as a form post when name or email is asked for; the
    name comes only then, in the `user` form field, never in the ID token; the client secret is a
    short-lived ES256 JWT signed with the team's key when `apple_private_key` is set."""

    family = "apple"
    default_issuer = "https://appleid.apple.com"
    default_scope = ("email", "name")

    @property
    def form_post(self) -> bool:
        return any(s in ("email", "name") for s in self.scope())

    def extra_authorize_parameters(self, nonce: str) -> dict[str, str]:
        extra = super().extra_authorize_parameters(nonce)
        if self.form_post:
            extra["response_mode"] = "form_post"
        return extra

    def client_secret(self) -> str:
        if not self.config.apple_private_key:
            return self.config.client_secret
        key = ECKey.import_key(self.config.apple_private_key)
        issued = int(time.time())
        return jwt.encode(
            {"alg": "ES256", "kid": self.config.apple_private_key_id},
            {
                "iss": self.config.apple_team_id,
                "iat": issued,
                "exp": issued + 300,
                "aud": "https://appleid.apple.com",
                "sub": self.config.client_id,
            },
            key,
        )

    async def claims(self, tokens: Tokens, nonce: str, callback: dict[str, str]) -> Claims:
        claims = await super().claims(tokens, nonce, callback)
        try:
            user = json_codec.loads_standard(callback.get("user") or "{}")
        except ValueError:
            user = {}
        name = user.get("name") if isinstance(user, dict) else None
        if isinstance(name, dict):
            claims.values.setdefault("given_name", name.get("firstName"))
            claims.values.setdefault("family_name", name.get("lastName"))
        return claims
