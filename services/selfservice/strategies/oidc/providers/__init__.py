"""The social sign-in providers (Kratos's `selfservice/strategy/oidc/provider_*.go`), one module per
family of quirks, all behind one small interface (`base.OAuth2Provider`): where to send the browser,
how to trade the code for tokens, and how to read the user's claims. `registry.FAMILIES` lists them
by the name Kratos's config uses.

OpenID Connect providers verify the ID token (signature from the issuer's JWKS, `iss`, `aud`, `exp`
and the flow's `nonce`); plain OAuth 2.0 providers (GitHub, Discord, …) have no ID token and are
read from their user APIs instead.
"""

from services.selfservice.strategies.oidc.providers.base import (
    Authorization,
    Claims,
    OAuth2Provider,
    Request,
    Tokens,
    normalize,
    random_token,
)
from services.selfservice.strategies.oidc.providers.oidc import OIDCProvider
from services.selfservice.strategies.oidc.providers.registry import FAMILIES, provider_for

__all__ = [
    "FAMILIES",
    "Authorization",
    "Claims",
    "OAuth2Provider",
    "OIDCProvider",
    "Request",
    "Tokens",
    "normalize",
    "provider_for",
    "random_token",
]
