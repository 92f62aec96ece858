"""Microsoft Entra ID (Kratos's `provider_microsoft.go`)."""

from __future__ import annotations

from typing import Any

from services.selfservice.strategies.oidc.providers.base import Claims, normalize
from services.selfservice.strategies.oidc.providers.oidc import OIDCProvider


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
