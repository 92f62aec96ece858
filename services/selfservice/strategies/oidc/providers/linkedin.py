"""LinkedIn, both of Kratos's types. `linkedin` (`provider_linkedin.go`) is the older OAuth 2.0 app
with the `r_liteprofile`/`r_emailaddress` products: the member from `/v2/me`, the address from
`/v2/emailAddress`. `linkedin_v2` (`provider_linkedin_v2.go`) is "Sign In with LinkedIn using
OpenID Connect": issuer `https://www.linkedin.com/oauth`, whose discovery document and ID tokens
name the issuer `https://www.linkedin.com` instead (so the token is checked against the document's
issuer, as for every OpenID provider here), and whose claims Kratos always reads from userinfo."""

from __future__ import annotations

from typing import Any

from services.selfservice.strategies.oidc.providers.base import Claims, OAuth2Provider, Tokens, api_claims
from services.selfservice.strategies.oidc.providers.oidc import OIDCProvider

_PROFILE = (
    "https://api.linkedin.com/v2/me"
    "?projection=(id,localizedFirstName,localizedLastName,profilePicture(displayImage~digitalmediaAsset:playableStreams))"
)
_EMAIL = "https://api.linkedin.com/v2/emailAddress?q=members&projection=(elements*(handle~))"


class LinkedIn(OAuth2Provider):
    family = "linkedin"
    auth_url = "https://www.linkedin.com/oauth/v2/authorization"
    token_url = "https://www.linkedin.com/oauth/v2/accessToken"
    home_domains = ("linkedin.com",)

    async def claims(self, tokens: Tokens, nonce: str, callback: dict[str, str]) -> Claims:
        profile = await self._get_object(self.moved(_PROFILE), tokens.access_token)
        emails = await self._get_object(self.moved(_EMAIL), tokens.access_token)
        elements = emails.get("elements")
        first = elements[0] if isinstance(elements, list) and elements and isinstance(elements[0], dict) else {}
        handle = first.get("handle~")
        values: dict[str, Any] = {
            "email": handle.get("emailAddress") if isinstance(handle, dict) else None,
            "given_name": profile.get("localizedFirstName"),
            "last_name": profile.get("localizedLastName"),  # Kratos's choice: `last_name`, not `family_name`
            "picture": _picture(profile),
        }
        return api_claims("https://login.linkedin.com/", profile.get("id"), values, profile)


def _picture(profile: dict[str, Any]) -> str | None:
    """The third rendition (or the largest there is, if fewer), as Kratos picks it."""
    picture = profile.get("profilePicture")
    image = picture.get("displayImage~") if isinstance(picture, dict) else None
    elements = image.get("elements") if isinstance(image, dict) else None
    if not isinstance(elements, list) or not elements:
        return None
    chosen = elements[min(len(elements), 3) - 1]
    identifiers = chosen.get("identifiers") if isinstance(chosen, dict) else None
    if not isinstance(identifiers, list) or not identifiers or not isinstance(identifiers[0], dict):
        return None
    return identifiers[0].get("identifier")


class LinkedInV2(OIDCProvider):
    family = "linkedin_v2"
    default_issuer = "https://www.linkedin.com/oauth"
    home_domains = ("linkedin.com",)

    @property
    def issuer(self) -> str:
        return self.moved(self.default_issuer)

    @property
    def claims_from_userinfo(self) -> bool:
        return True  # Kratos sets `claims_source: userinfo` for this type, whatever the config says
