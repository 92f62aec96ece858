"""What every social sign-in provider shares (Kratos's `provider.go` and `claims/claims.go`): the
OAuth 2.0 redirect and code exchange, calls to the provider's APIs through the egress guard, and the
normalized claims the Jsonnet mappers read. Providers without OpenID Connect (GitHub, Discord, …)
are this class with fixed endpoints and a `claims` that reads their user API.

authlib builds the OAuth 2.0 requests (PKCE, grant URI); the token body is sent as a form.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from services.selfservice.strategies.oidc.config import ProviderConfig
from services.selfservice.strategies.oidc.errors import ProviderFailed, TokenInvalid
from shared import json_codec

# `Egress.request`: an outgoing request through the service's SSRF guard, used as `async with`.
Request = Callable[..., Any]


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


def random_token(size: int = 32) -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(size)).rstrip(b"=").decode()
