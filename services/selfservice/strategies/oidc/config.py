"""`selfservice.methods.oidc.config`: the providers, with Kratos's keys and defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.selfservice.strategies.oidc.linking import AUTOMATIC, AUTOMATIC_TYPES, CONFIRM, MODES
from shared.errors import ConfigError

# Types that support PKCE but publish no discovery to say so: Kratos turns their unset or `auto`
# `pkce` into `force` when it builds them, so their callback is the generic one too.
_PKCE_FORCED_UNLESS_NEVER = frozenset({"uaepass"})


def _pkce(kind: str, pkce: str) -> str:
    return "force" if kind in _PKCE_FORCED_UNLESS_NEVER and pkce == "auto" else pkce


@dataclass(frozen=True)
class ProviderConfig:
    id: str
    provider: str
    client_id: str
    mapper_url: str
    client_secret: str = ""
    label: str = ""
    issuer_url: str = ""
    auth_url: str = ""
    token_url: str = ""
    scope: tuple[str, ...] = ()
    requested_claims: dict[str, Any] = field(default_factory=dict)
    claims_source: str = "id_token"
    pkce: str = "auto"  # auto | never | force
    microsoft_tenant: str = ""
    subject_source: str = "userinfo"
    apple_team_id: str = ""
    apple_private_key_id: str = ""
    apple_private_key: str = ""
    additional_id_token_audiences: tuple[str, ...] = ()
    update_identity_on_login: str = "never"  # never | automatic (see login_update.py)
    account_linking_mode: str = CONFIRM  # confirm_with_existing_credential | automatic (see linking.py)
    # Upstream `acr` / `amr` values that make a sign-in by this provider aal2 (assurance.py).
    aal2_acr_values: frozenset[str] = frozenset()
    aal2_amr_values: frozenset[str] = frozenset()

    @property
    def title(self) -> str:
        return self.label or self.id.replace("-", " ").replace("_", " ").title()

    @classmethod
    def from_dict(cls, raw: dict[str, Any], families: set[str]) -> ProviderConfig:
        kind = raw.get("provider", "")
        if kind not in families:
            raise ConfigError(
                f"config: selfservice.methods.oidc.config.providers[{raw.get('id')}].provider: {kind!r} is not "
                f"supported by Warden yet (supported: {', '.join(sorted(families))})"
            )
        return cls(
            id=raw["id"],
            provider=kind,
            client_id=raw["client_id"],
            mapper_url=raw["mapper_url"],
            client_secret=raw.get("client_secret") or "",
            label=raw.get("label") or "",
            issuer_url=raw.get("issuer_url") or "",
            auth_url=raw.get("auth_url") or "",
            token_url=raw.get("token_url") or "",
            scope=tuple(raw.get("scope") or ()),
            requested_claims=dict(raw.get("requested_claims") or {}),
            claims_source=raw.get("claims_source") or "id_token",
            pkce=_pkce(kind, raw.get("pkce") or "auto"),
            microsoft_tenant=raw.get("microsoft_tenant") or "",
            subject_source=raw.get("subject_source") or "userinfo",
            apple_team_id=raw.get("apple_team_id") or "",
            apple_private_key_id=raw.get("apple_private_key_id") or "",
            apple_private_key=raw.get("apple_private_key") or "",
            additional_id_token_audiences=tuple(raw.get("additional_id_token_audiences") or ()),
            update_identity_on_login=raw.get("update_identity_on_login") or "never",
            account_linking_mode=_linking_mode(raw, kind),
            aal2_acr_values=frozenset(v for v in raw.get("aal2_acr_values") or () if v),
            aal2_amr_values=frozenset(v for v in raw.get("aal2_amr_values") or () if v),
        )


def _linking_mode(raw: dict[str, Any], kind: str) -> str:
    """Kratos links automatically for Google and Apple alone: `automatic` on another type would be
    believed in force and do nothing, so it fails start-up instead."""
    mode = raw.get("account_linking_mode") or CONFIRM
    key = f"config: selfservice.methods.oidc.config.providers[{raw.get('id')}].account_linking_mode"
    if mode not in MODES:
        raise ConfigError(f"{key}: {mode!r} is not one of {', '.join(MODES)}")
    if mode == AUTOMATIC and kind not in AUTOMATIC_TYPES:
        raise ConfigError(
            f"{key}: {AUTOMATIC!r} is supported for the provider types {', '.join(sorted(AUTOMATIC_TYPES))} "
            f"only, as in Kratos (this provider is {kind!r})"
        )
    return str(mode)


GENERIC_CALLBACK = "/self-service/methods/oidc/callback"


@dataclass(frozen=True)
class OidcConfig:
    base_redirect_uri: str
    providers: tuple[ProviderConfig, ...]

    @classmethod
    def from_settings(cls, settings: Any, public_base_url: str, families: set[str]) -> OidcConfig:
        raw = settings.get("selfservice.methods.oidc.config") or {}
        providers = tuple(ProviderConfig.from_dict(p, families) for p in raw.get("providers") or [])
        ids = [p.id for p in providers]
        if len(set(ids)) != len(ids):
            raise ConfigError("config: selfservice.methods.oidc.config.providers: provider ids must be unique")
        return cls((raw.get("base_redirect_uri") or public_base_url).rstrip("/"), providers)

    @property
    def generic_callback(self) -> str:
        return f"{self.base_redirect_uri}{GENERIC_CALLBACK}"

    def redirect_uri(self, provider_id: str) -> str:
        """Kratos's: `…/callback/<provider id>`, but with `pkce: force` the one `…/callback` of every
        such provider, which Kratos's users have registered with it (config.schema.json says so);
        the callback then finds the provider in the flow's pending sign-in."""
        if any(p.id == provider_id and p.pkce == "force" for p in self.providers):
            return self.generic_callback
        return f"{self.generic_callback}/{provider_id}"
