"""LINE Login v2.1 (Kratos's `provider_line_2_1.go`): OpenID Connect at `https://access.line.me`. The
token request carries `id_token_key_type=JWK`, which makes LINE sign the ID token with ES256 (a key
from its JWKS) rather than HS256 with the channel secret."""

from __future__ import annotations

from collections.abc import Mapping

from services.selfservice.strategies.oidc.providers.oidc import OIDCProvider


class Line(OIDCProvider):
    family = "line"
    default_issuer = "https://access.line.me"
    home_domains = ("line.me",)

    @property
    def issuer(self) -> str:
        return self.moved(self.default_issuer)

    def extra_token_parameters(self, callback: Mapping[str, str]) -> dict[str, str]:
        return {"id_token_key_type": "JWK"}
