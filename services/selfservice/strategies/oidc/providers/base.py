"""What every social sign-in provider shares (Kratos's `provider.go` and `claims/claims.go`): the
OAuth 2.0 redirect and code exchange, calls to the provider's APIs through the egress guard, and the
normalized claims the Jsonnet mappers read. Providers without OpenID Connect (GitHub, Discord, …)
are this class with fixed endpoints and a `claims` that reads their user API.

authlib builds the OAuth 2.0 requests (PKCE, grant URI); the token body is sent as a form.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus, urlsplit

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
    # The whole answer: some providers put more in it (VK the email, Slack and Spotify the granted scope).
    answer: dict[str, Any] = field(default_factory=dict, repr=False)


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


def api_claims(issuer: str, subject: Any, values: dict[str, Any], raw: dict[str, Any]) -> Claims:
    """Claims read from a provider's user API: its id as the subject, and only the values it sent."""
    if subject is None or str(subject) == "":
        raise ProviderFailed(f"the user API of {issuer} answered without the user's id")
    return Claims(issuer, str(subject), {k: v for k, v in values.items() if v not in (None, "")}, raw)


def normalize(raw: dict[str, Any], issuer: str, subject: str | None = None) -> Claims:
    sub = str(subject if subject is not None else raw.get("sub") or "")
    if not sub:
        raise ProviderFailed("the provider sent no subject")
    values = {k: raw[k] for k in _STANDARD if k in raw}
    for name in _BOOLEANS:
        if isinstance(values.get(name), str):
            values[name] = values[name].strip().lower() in _TRUE
    locale = values.get("locale")
    if isinstance(locale, dict):  # LinkedIn's `{country, language}`, which Kratos reads as "language-country"
        values["locale"] = "-".join(str(locale[k]) for k in ("language", "country") if locale.get(k))
    return Claims(issuer, sub, values, raw)


class OAuth2Provider:
    """A provider without OpenID Connect: fixed endpoints, claims from a user API."""

    family = "oauth2"
    default_scope: tuple[str, ...] = ()
    auth_url = ""
    token_url = ""
    # The provider's own domains. Set, its fixed URLs move to `issuer_url`'s origin when that names
    # another host (see `moved`); empty, `issuer_url` means what the subclass says it means.
    home_domains: tuple[str, ...] = ()
    # Whether the token request authenticates the client with HTTP Basic (RFC 6749 §2.3.1, Go's
    # `oauth2.AuthStyleInHeader`) rather than with `client_id` and `client_secret` in the body.
    client_auth_in_header = False

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
        self,
        redirect_uri: str,
        state: str,
        nonce: str,
        code_verifier: str,
        upstream: dict[str, str],
        *,
        forced: bool = False,
    ) -> Authorization:
        """`forced`: the login is a refresh, the user must authenticate again (Kratos's `isForced`)."""
        endpoint = self.config.auth_url or await self.authorization_endpoint()
        extra: dict[str, Any] = {
            **self.authorize_defaults(forced),
            **upstream,
            **self.extra_authorize_parameters(nonce),
        }
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

    def authorize_defaults(self, forced: bool) -> dict[str, str]:
        """Parameters the provider adds that the flow's `upstream_parameters` may override, as in Kratos."""
        return {}

    async def authorization_endpoint(self) -> str:
        return self.moved(self.auth_url)

    async def token_endpoint(self) -> str:
        return self.config.token_url or self.moved(self.token_url)

    def moved(self, url: str) -> str:
        """One of the provider's fixed URLs, at `issuer_url`'s origin when that is another host.

        Kratos ignores `issuer_url` for providers with fixed endpoints; Warden lets it name a host
        that serves the same API (a proxy, a test double). Set to the provider's own address, as a
        Kratos config may have it, it changes nothing."""
        base = self.config.issuer_url.rstrip("/")
        if not base or not self.home_domains:
            return url
        host = urlsplit(base).hostname or ""
        if any(host == d or host.endswith(f".{d}") for d in self.home_domains):
            return url
        parts = urlsplit(url)
        return f"{base}{parts.path}" + (f"?{parts.query}" if parts.query else "")

    def require_granted(self, granted: list[str]) -> None:
        """Kratos's `ErrScopeMissing`: every configured scope must be among those the user granted."""
        missing = [s for s in self.config.scope if s not in granted]
        if missing:
            raise ProviderFailed(
                f"a required scope was not granted: {', '.join(missing)} (granted: {', '.join(granted) or 'none'})"
            )

    # --- the callback ------------------------------------------------------------------------
    async def exchange(
        self, code: str, redirect_uri: str, code_verifier: str | None, callback: Mapping[str, str] | None = None
    ) -> Tokens:
        body = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        headers: dict[str, str] = {}
        if self.client_auth_in_header:
            headers["Authorization"] = basic_authorization(self.config.client_id, self.client_secret())
        else:
            body.update(client_id=self.config.client_id, client_secret=self.client_secret())
        if code_verifier:
            body["code_verifier"] = code_verifier
        body.update(self.extra_token_parameters(callback or {}))
        answer = await self._post_form(await self.token_endpoint(), body, headers)
        return tokens_from(answer, "access_token", "refresh_token")

    def extra_token_parameters(self, callback: Mapping[str, str]) -> dict[str, str]:
        """What a provider wants in the token request beyond RFC 6749's (Kratos's `AccessTokenURLOptions`)."""
        return {}

    def client_secret(self) -> str:
        return self.config.client_secret

    async def claims(self, tokens: Tokens, nonce: str, callback: dict[str, str]) -> Claims:
        raise NotImplementedError

    async def claims_from_id_token(self, id_token: str, nonce: str) -> Claims:
        """Native sign-in (`id_token` submission) needs an OpenID provider."""
        raise TokenInvalid("this provider does not issue ID tokens")

    # --- HTTP ---------------------------------------------------------------------------------
    async def _post_form(self, url: str, body: dict[str, str], headers: dict[str, str] | None = None) -> dict[str, Any]:
        answer = await self._request("POST", url, data=body, headers=headers or {})
        if not isinstance(answer, dict):
            raise ProviderFailed(f"POST {_shown(url)} answered something that is not a JSON object")
        return answer

    async def _get_json(self, url: str, access_token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
        return await self._request("GET", url, headers=headers)

    async def _get_object(
        self, url: str, access_token: str | None, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """A user API's answer, which must be a JSON object."""
        bearer = {"Authorization": f"Bearer {access_token}"} if access_token else {}
        answer = await self._request("GET", url, headers={**bearer, **(headers or {})})
        if not isinstance(answer, dict):
            raise ProviderFailed(f"GET {_shown(url)} answered something that is not a JSON object")
        return answer

    async def _request(self, method: str, url: str, **kw: Any) -> Any:
        raw = await self._send(method, url, **kw)
        try:
            return json_codec.loads_standard(raw)
        except ValueError:
            raise ProviderFailed(f"{method} {_shown(url)} answered something that is not JSON") from None

    async def _send(self, method: str, url: str, **kw: Any) -> bytes:
        """The body of a successful answer (OAuth 1.0a's are forms, not JSON)."""
        headers = {"Accept": "application/json", **kw.pop("headers", {})}
        try:
            async with self._http(method, url, headers=headers, **kw) as response:
                raw = await response.read()
                if response.status >= 400:
                    raise ProviderFailed(f"{method} {_shown(url)} answered {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderFailed(f"{method} {_shown(url)} failed: {type(exc).__name__}") from None
        return bytes(raw)


def _shown(url: str) -> str:
    """A URL for a log line or a flow message: without its query, where Yandex and VK want the token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def tokens_from(answer: dict[str, Any], access_key: str, refresh_key: str) -> Tokens:
    access = answer.get(access_key)
    if not isinstance(access, str) or not access:
        raise ProviderFailed(f"the token endpoint answered without an access token: {answer.get('error')!r}")
    id_token = answer.get("id_token")
    refresh = answer.get(refresh_key)
    return Tokens(
        access,
        id_token if isinstance(id_token, str) else None,
        refresh if isinstance(refresh, str) else None,
        answer,
    )


def basic_authorization(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: both form-encoded before they are joined, as Go's oauth2 sends them."""
    pair = f"{quote_plus(client_id, safe='')}:{quote_plus(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def random_token(size: int = 32) -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(size)).rstrip(b"=").decode()
