"""What a social sign-in proves (Kratos's `Configuration.AALForClaims`): the session's
authentication method for it, at `aal2` when the provider says its user passed a second factor.

A provider says so in the `acr` claim (one value: the authentication context class it met) or the
`amr` claim (a list: the methods used, RFC 8176's `mfa`, `otp`, `hwk`, …). A provider's
`aal2_acr_values` lists the `acr` values that count as a second factor, `aal2_amr_values` the `amr`
values of which any one does; with neither, every sign-in by it is `aal1`, whatever it claims. An
empty value never matches. Either way the method records what the provider claimed
(`upstream_acr`, `upstream_amr`), as Kratos's session shows it: both `omitempty` there, so an empty
`acr` or `amr` is left out rather than shown as `""` or `[]`.

The claims are the ones the provider's signed ID token (or, with `claims_source: userinfo`, its
userinfo answer) carried: the provider's word. List values only for a provider whose second factor
you would accept as your own.
"""

from __future__ import annotations

from typing import Any

from services.selfservice.strategies.oidc.config import ProviderConfig
from services.selfservice.strategies.oidc.providers import Claims
from shared.aal import AAL1, AAL2


def upstream_acr(claims: Claims) -> str | None:
    acr = claims.values.get("acr")
    return acr if isinstance(acr, str) and acr else None


def upstream_amr(claims: Claims) -> list[str] | None:
    """The `amr` list's strings (a provider sending anything else for it says nothing)."""
    amr = claims.values.get("amr")
    return [v for v in amr if isinstance(v, str)] if isinstance(amr, list) else None


def aal_for(provider: ProviderConfig, claims: Claims) -> str:
    acr, amr = upstream_acr(claims), upstream_amr(claims) or []
    if acr is not None and acr in provider.aal2_acr_values:
        return AAL2
    return AAL2 if any(v and v in provider.aal2_amr_values for v in amr) else AAL1


def upstream(claims: Claims) -> dict[str, Any]:
    """What the provider claimed, as the session's method shows it: `upstream_acr`, `upstream_amr`."""
    shown: dict[str, Any] = {}
    if (acr := upstream_acr(claims)) is not None:
        shown["upstream_acr"] = acr
    if amr := upstream_amr(claims):
        shown["upstream_amr"] = amr
    return shown
