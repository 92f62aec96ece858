"""The social sign-in providers (Kratos's `selfservice/strategy/oidc/provider_*.go`), one class per
family of quirks, all behind one small interface: where to send the browser, how to trade the code
for tokens, and how to read the user's claims.

OpenID Connect providers verify the ID token (signature from the issuer's JWKS, `iss`, `aud`, `exp`
and the flow's `nonce`); plain OAuth 2.0 providers (GitHub, Discord) have no ID token and are read
from their user APIs instead. authlib builds the OAuth 2.0 requests (PKCE, grant URI, token body);
joserfc, authlib's JOSE library, checks the tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from services.selfservice.strategies.oidc.config import ProviderConfig
from services.selfservice.strategies.oidc.errors import ProviderFailed, TokenInvalid
from shared import json_codec

# `Egress.request`: an outgoing request through the service's SSRF guard, used as `async with`.
Request = Callable[..., Any]

_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"]
_LEEWAY = 60  # seconds of clock skew tolerated on exp/iat/nbf


@dataclass(frozen=True)
class Tokens:
    """What the token endpoint answered; kept only encrypted (`initial_*_token`)."""

    access_token: str
    id_token: str | None = None
    refresh_token: str | None = None


@dataclass(frozen=True)
class Authorization:
    """One redirect to the provider: the URL, and what the flow must keep to check the callback."""

    url: str
    code_verifier: str | None


@dataclass
class Claims:
    """Kratos's normalized claims (`oidc.Claims`), as the Jsonnet mappers see them."""

    issuer: str
    subject: str
    values: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    def for_mapper(self) -> dict[str, Any]:
        return {**self.values, "iss": self.issuer, "sub": self.subject, "raw_claims": self.raw}


_STANDARD = (
    "name given_name family_name last_name middle_name nickname preferred_username profile picture website "
    "email email_verified gender birthdate zoneinfo locale phone_number phone_number_verified updated_at hd "
    "team acr amr"
).split()


# Kratos reads these as `ConvertibleBoolean`: Apple has sent them as the strings "true"/"false", and
# mappers are written for booleans (`if claims.email_verified`, where a string is an error).
_BOOLEANS = ("email_verified", "phone_number_verified")
_TRUE = {"1", "t", "true"}  # Go's strconv.ParseBool; "false" and anything else prove nothing


def normalize(raw: dict[str, Any], issuer: str, subject: str | None = None) -> Claims:
    sub = str(subject if subject is not None else raw.get("sub") or "")
    if not sub:
        raise ProviderFailed("the provider sent no subject")
    values = {k: raw[k] for k in _STANDARD if k in raw}
    for name in _BOOLEANS:
        if isinstance(values.get(name), str):
            values[name] = values[name].strip().lower() in _TRUE
    return Claims(issuer, sub, values, raw)


class OAuth2Provider:
    """A provider without OpenID Connect: fixed endpoints, claims from a user API."""

    family = "oauth2"
    default_scope: tuple[str, ...] = ()
    auth_url = ""
    token_url = ""

    def __init__(self, config: ProviderConfig, http: Request) -> None:
        self.config = config
        self._http = http

    # --- the redirect ------------------------------------------------------------------------
    @property
    def form_post(self) -> bool:
        """Whether the provider posts the callback as a form (Apple) instead of redirecting."""
        return False

    def uses_pkce(self) -> bool:
        return self.config.pkce == "force" or (self.config.pkce == "auto" and self.supports_pkce())

    def supports_pkce(self) -> bool:
        return False

    async def authorize(
        self, redirect_uri: str, state: str, nonce: str, code_verifier: str, upstream: dict[str, str]
    ) -> Authorization:
        endpoint = self.config.auth_url or await self.authorization_endpoint()
        extra: dict[str, Any] = {**upstream, **self.extra_authorize_parameters(nonce)}
        verifier: str | None = None
        if self.uses_pkce():
            verifier = code_verifier
            extra.update(code_challenge=create_s256_code_challenge(verifier), code_challenge_method="S256")
        url = prepare_grant_uri(
            endpoint,
            client_id=self.config.client_id,
            response_type="code",
            redirect_uri=redirect_uri,
            scope=" ".join(self.scope()),
            state=state,
            **extra,
        )
        return Authorization(url, verifier)

    def scope(self) -> list[str]:
        return list(self.config.scope or self.default_scope)

    def extra_authorize_parameters(self, nonce: str) -> dict[str, str]:
        return {}

    async def authorization_endpoint(self) -> str:
        return self.auth_url

    async def token_endpoint(self) -> str:
        return self.config.token_url or self.token_url

    # --- the callback ------------------------------------------------------------------------
    async def exchange(self, code: str, redirect_uri: str, code_verifier: str | None) -> Tokens:
        body = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        body.update(client_id=self.config.client_id, client_secret=self.client_secret())
        if code_verifier:
            body["code_verifier"] = code_verifier
        answer = await self._post_form(await self.token_endpoint(), body)
        access = answer.get("access_token")
        if not isinstance(access, str) or not access:
            raise ProviderFailed(f"the token endpoint answered without an access token: {answer.get('error')!r}")
        id_token = answer.get("id_token")
        refresh = answer.get("refresh_token")
        return Tokens(
            access, id_token if isinstance(id_token, str) else None, refresh if isinstance(refresh, str) else None
        )

    def client_secret(self) -> str:
        return self.config.client_secret

    async def claims(self, tokens: Tokens, nonce: str, callback: dict[str, str]) -> Claims:
        raise NotImplementedError

    async def claims_from_id_token(self, id_token: str, nonce: str) -> Claims:
        """Native sign-in (`id_token` submission) needs an OpenID provider."""
        raise TokenInvalid("this provider does not issue ID tokens")

    # --- HTTP ---------------------------------------------------------------------------------
    async def _post_form(self, url: str, body: dict[str, str]) -> dict[str, Any]:
        answer = await self._request("POST", url, data=body)
        if not isinstance(answer, dict):
            raise ProviderFailed(f"POST {url} answered something that is not a JSON object")
        return answer

    async def _get_json(self, url: str, access_token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
        return await self._request("GET", url, headers=headers)

    async def _request(self, method: str, url: str, **kw: Any) -> Any:
        headers = {"Accept": "application/json", **kw.pop("headers", {})}
        try:
            async with self._http(method, url, headers=headers, **kw) as response:
                raw = await response.read()
                if response.status >= 400:
                    raise ProviderFailed(f"{method} {url} answered {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderFailed(f"{method} {url} failed: {type(exc).__name__}") from None
        try:
            return json_codec.loads_standard(raw)
        except ValueError:
            raise ProviderFailed(f"{method} {url} answered something that is not JSON") from None


class OIDCProvider(OAuth2Provider):
    """Generic OpenID Connect: endpoints and keys by discovery from `issuer_url`."""

    family = "generic"
    default_scope: tuple[str, ...] = ("openid",)
    default_issuer = ""

    def __init__(self, config: ProviderConfig, http: Request) -> None:
        super().__init__(config, http)
        self._discovery: dict[str, Any] | None = None
        self._keys: tuple[float, KeySet] | None = None

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
        self, redirect_uri: str, state: str, nonce: str, code_verifier: str, upstream: dict[str, str]
    ) -> Authorization:
        await self.discovery()  # PKCE support is read from it
        return await super().authorize(redirect_uri, state, nonce, code_verifier, upstream)

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
        if self.config.claims_source == "userinfo":
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
        try:
            decoded = jwt.decode(token, await self._key_set(), algorithms=_ALGORITHMS)
        except (JoseError, ValueError) as first:
            self._keys = None  # the provider may have rotated its keys: fetch them once more
            try:
                decoded = jwt.decode(token, await self._key_set(), algorithms=_ALGORITHMS)
            except (JoseError, ValueError):
                raise TokenInvalid(f"the ID token's signature does not verify ({type(first).__name__})") from None
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

    async def _key_set(self) -> KeySet:
        if self._keys is None or time.monotonic() - self._keys[0] > 3600:
            uri = (await self.discovery()).get("jwks_uri")
            if not uri:
                raise ProviderFailed("the provider's discovery document has no jwks_uri")
            document = await self._get_json(str(uri))
            try:
                self._keys = (time.monotonic(), KeySet.import_key_set(document))
            except (JoseError, ValueError, TypeError, KeyError):
                raise ProviderFailed("the provider's JWKS could not be read") from None
        return self._keys[1]


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


class Microsoft(OIDCProvider):
    """Entra ID: the issuer names the user's tenant, so with `common`/`organizations`/`consumers` it is
    checked against the token's own `tid` rather than one fixed string."""

    family = "microsoft"
    default_scope = ("openid", "email", "profile")

    @property
    def issuer(self) -> str:
        if self.config.issuer_url:
            return self.config.issuer_url.rstrip("/")
        return f"https://login.microsoftonline.com/{self.config.microsoft_tenant or 'common'}/v2.0"

    def expected_issuer(self, claims: dict[str, Any]) -> str:
        template = super().expected_issuer(claims)
        return template.replace("{tenantid}", str(claims.get("tid") or ""))

    def claims_of(self, verified: dict[str, Any]) -> Claims:
        subject = verified.get("oid") if self.config.subject_source == "oid" else None
        return normalize(verified, str(verified.get("iss") or self.issuer), subject)


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


FAMILIES: dict[str, type[OAuth2Provider]] = {
    "generic": OIDCProvider,
    "auth0": OIDCProvider,
    "google": Google,
    "gitlab": GitLab,
    "microsoft": Microsoft,
    "apple": Apple,
    "github": GitHub,
    "discord": Discord,
}


def provider_for(config: ProviderConfig, http: Request) -> OAuth2Provider:
    return FAMILIES[config.provider](config, http)


def random_token(size: int = 32) -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(size)).rstrip(b"=").decode()
