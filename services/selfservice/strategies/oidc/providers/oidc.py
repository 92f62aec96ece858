"""OpenID Connect providers found by discovery from `issuer_url` (`generic`, `auth0`), and those
whose issuer is fixed (Google, GitLab). The ID token is verified: signature from the issuer's JWKS
(key_set.py: when it is fetched again), `iss`, `aud`, `exp` and the flow's `nonce`; joserfc,
authlib's JOSE library, checks it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from services.selfservice.strategies.oidc.config import ProviderConfig
from services.selfservice.strategies.oidc.errors import ProviderFailed, TokenInvalid
from services.selfservice.strategies.oidc.providers.base import (
    Authorization,
    Claims,
    OAuth2Provider,
    Request,
    Tokens,
    normalize,
)
from services.selfservice.strategies.oidc.providers.key_set import ProviderKeys, check_header

_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"]
_LEEWAY = 60  # seconds of clock skew tolerated on exp/iat/nbf


class OIDCProvider(OAuth2Provider):
    """Generic OpenID Connect: endpoints and keys by discovery from `issuer_url`."""

    family = "generic"
    default_scope: tuple[str, ...] = ("openid",)
    default_issuer = ""

    def __init__(self, config: ProviderConfig, http: Request) -> None:
        super().__init__(config, http)
        self._discovery: dict[str, Any] | None = None
        self._keys = ProviderKeys(self._fetch_key_set)

    @property
    def issuer(self) -> str:
        return (self.config.issuer_url or self.default_issuer).rstrip("/")

    def supports_pkce(self) -> bool:
        methods = (self._discovery or {}).get("code_challenge_methods_supported") or []
        return "S256" in methods

    def scope(self) -> list[str]:
        scope = super().scope()
        return scope if "openid" in scope else ["openid", *scope]

    def extra_authorize_parameters(self, nonce: str) -> dict[str, str]:
        extra = {"nonce": nonce}
        if self.config.requested_claims:
            extra["claims"] = json.dumps(self.config.requested_claims)
        return extra

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
        await self.discovery()  # PKCE support is read from it
        return await super().authorize(redirect_uri, state, nonce, code_verifier, upstream, forced=forced)

    @property
    def claims_from_userinfo(self) -> bool:
        return self.config.claims_source == "userinfo"

    async def discovery(self) -> dict[str, Any]:
        if self._discovery is None:
            document = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
            if not isinstance(document, dict) or not document.get("authorization_endpoint"):
                raise ProviderFailed("the provider's discovery document has no authorization_endpoint")
            self._discovery = document
        return self._discovery

    async def authorization_endpoint(self) -> str:
        return str((await self.discovery())["authorization_endpoint"])

    async def token_endpoint(self) -> str:
        return self.config.token_url or str((await self.discovery()).get("token_endpoint") or "")

    async def claims(self, tokens: Tokens, nonce: str, callback: dict[str, str]) -> Claims:
        if not tokens.id_token:
            raise TokenInvalid("the provider answered without an ID token")
        verified = await self.verify_id_token(tokens.id_token, nonce)
        if self.claims_from_userinfo:
            endpoint = (await self.discovery()).get("userinfo_endpoint")
            if endpoint:
                info = await self._get_json(str(endpoint), tokens.access_token)
                if isinstance(info, dict) and info.get("sub") == verified.get("sub"):
                    verified = {**verified, **info}
        return self.claims_of(verified)

    def claims_of(self, verified: dict[str, Any]) -> Claims:
        return normalize(verified, str(verified.get("iss") or self.issuer))

    async def claims_from_id_token(self, id_token: str, nonce: str) -> Claims:
        return self.claims_of(await self.verify_id_token(id_token, nonce, hashed_nonce_allowed=True))

    async def verify_id_token(self, token: str, nonce: str, *, hashed_nonce_allowed: bool = False) -> dict[str, Any]:
        check_header(token, _ALGORITHMS)  # before any fetch: junk must not reach the provider
        keys = await self._keys.current()
        try:
            decoded = jwt.decode(token, keys, algorithms=_ALGORITHMS)
        except (JoseError, ValueError) as first:
            refused = TokenInvalid(f"the ID token's signature does not verify ({type(first).__name__})")
            # The provider may have rotated its keys: fetched again, unless that was done just now.
            fresher = await self._keys.after_miss(keys)
            if fresher is None:
                raise refused from None
            try:
                decoded = jwt.decode(token, fresher, algorithms=_ALGORITHMS)
            except (JoseError, ValueError):
                raise refused from None
        claims = dict(decoded.claims)
        audiences = [self.config.client_id, *self.config.additional_id_token_audiences]
        registry = jwt.JWTClaimsRegistry(
            leeway=_LEEWAY,
            iss={"essential": True, "value": self.expected_issuer(claims)},
            aud={"essential": True, "values": audiences},
            sub={"essential": True},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise TokenInvalid(f"the ID token was refused: {exc.description or exc.error}") from None
        if not _nonce_matches(claims.get("nonce"), nonce, hashed_nonce_allowed):
            raise TokenInvalid("the ID token's nonce does not match the flow's")
        return claims

    def expected_issuer(self, claims: dict[str, Any]) -> str:
        return str(self._discovery.get("issuer") if self._discovery else self.issuer)

    async def _fetch_key_set(self) -> Any:
        uri = (await self.discovery()).get("jwks_uri")
        if not uri:
            raise ProviderFailed("the provider's discovery document has no jwks_uri")
        return await self._get_json(str(uri))


def _nonce_matches(claimed: Any, expected: str, hashed_allowed: bool) -> bool:
    if not isinstance(claimed, str) or not expected:
        return False
    if hmac.compare_digest(claimed, expected):
        return True
    # Apple's and Google's native SDKs put the SHA-256 of the app's nonce in the token.
    return hashed_allowed and hmac.compare_digest(claimed, hashlib.sha256(expected.encode()).hexdigest())


class Google(OIDCProvider):
    family = "google"
    default_issuer = "https://accounts.google.com"
    default_scope = ("openid", "email", "profile")


class GitLab(OIDCProvider):
    family = "gitlab"
    default_issuer = "https://gitlab.com"
    default_scope = ("openid", "email", "profile")
