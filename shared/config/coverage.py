"""What Warden does with each key of Kratos's config schema: the table a user can check.

Warden accepts every `kratos.yml` Kratos accepts, so a key it does not implement would otherwise be
taken silently and believed in force. Each leaf of Kratos's schema (see `shared.config.leaves`) is
one of:

- `honoured`: Warden reads it and acts on it; the note says where.
- `not_supported`: Warden ignores it; the note says what Warden does instead. A config that sets
  one to anything but its default gets a start-up warning (`shared.config.ignored_keys`), unless
  the value is one listed in `same_as`: what Warden always does anyway.
- `not_applicable`: it means nothing for Warden (an Ory Network key, a CLI flag); the note says why.

Patterns are dotted leaf paths; `[]` is an array's item, `*` one segment, `**` one or more. The
first matching row wins, so a specific row goes before the general one it carves out of.
`tests/unit/test_config_coverage.py` fails when a leaf matches no row or a row decides no leaf.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

Fate = Literal["honoured", "not_supported", "not_applicable"]
HONOURED: Fate = "honoured"
NOT_SUPPORTED: Fate = "not_supported"
NOT_APPLICABLE: Fate = "not_applicable"


@dataclass(frozen=True)
class Row:
    pattern: str
    fate: Fate
    note: str
    same_as: tuple[Any, ...] = ()  # not_supported values that describe what Warden does anyway


def _h(pattern: str, where: str) -> Row:
    return Row(pattern, HONOURED, where)


def _ns(pattern: str, reason: str, *same_as: Any) -> Row:
    return Row(pattern, NOT_SUPPORTED, reason, same_as)


def _na(pattern: str, reason: str) -> Row:
    return Row(pattern, NOT_APPLICABLE, reason)


NETWORK = "only effective in the Ory Network"
CLI_FLAG = "a command-line flag in Kratos, not read from a config file"
SCHEMA_SLIP = "a slip in Kratos's schema (`additionalProperties` listed as a property); no value passes it"
HOOKS = "selfservice.flows.**.hooks[]"
# The hook names Warden runs (services/selfservice/hooks/__init__.py; a unit test keeps the two
# alike). Kratos's schema refuses any other name at load time, but admits some Warden lacks: a
# config naming one is told at start-up (shared/config/ignored_keys.py), and the hook is skipped.
IMPLEMENTED_HOOKS = frozenset(
    {
        "session",
        "revoke_active_sessions",
        "require_verified_address",
        "show_verification_ui",
        "web_hook",
        "notify_previous_addresses",
    }
)

ROWS: tuple[Row, ...] = (
    _na("**.additionalProperties", SCHEMA_SLIP),
    # --- self-service flows -----------------------------------------------------------------------
    _ns(f"{HOOKS}.config.emit_analytics_event", "Warden traces every web hook call alike", True),
    _h(f"{HOOKS}.config.recipients", "services/selfservice/hooks/notify_previous_addresses.py"),
    _h(f"{HOOKS}.**", "services/selfservice/hooks (registry.py, web_hook_calls.py); IMPLEMENTED_HOOKS above"),
    _h(
        "selfservice.flows.*.after.**",
        "services/selfservice/config.py (after_return_url), flows/settings, flows/recovery",
    ),
    _h("selfservice.flows.logout.clear_browser_data", "services/selfservice/flows/logout/handler.py"),
    _h(
        "selfservice.flows.registration.login_hints",
        "services/selfservice/flows/registration/login_hints.py (never under security.account_enumeration.mitigate)",
    ),
    _ns(
        "selfservice.flows.registration.enable_legacy_one_step",
        "deprecated: Warden registers in one step unless `style: profile_first`",
        True,
    ),
    _h("selfservice.flows.*.style", "services/selfservice/config.py, service.py (_two_step_forms)"),
    _h("selfservice.flows.*.privileged_session_max_age", "services/selfservice/flows/settings/handler.py"),
    _h("selfservice.flows.*.required_aal", "services/selfservice/flows/settings/handler.py"),
    _h("selfservice.flows.*.use", "services/selfservice/strategies/registry.py"),
    _h("selfservice.flows.*.notify_unknown_recipients", "services/selfservice/service.py"),
    _h("selfservice.flows.*.*", "services/selfservice/config.py (ui_url, lifespan, enabled)"),
    _h("selfservice.default_browser_return_url", "services/selfservice/config.py"),
    _h("selfservice.allowed_return_urls", "services/selfservice/config.py"),
    # --- self-service methods ---------------------------------------------------------------------
    _na("selfservice.methods.b2b.**", "B2B SSO organizations are " + NETWORK),
    _h("selfservice.methods.*.enabled", "services/selfservice/strategies/registry.py, shared/first_factors.py"),
    _h("selfservice.methods.link.config.**", "services/selfservice/service.py, strategies/link/strategy.py"),
    _h(
        "selfservice.methods.code.config.missing_credential_fallback_enabled",
        "services/selfservice/strategies/code/fallback.py (passwordless login; email identifiers only)",
    ),
    _h("selfservice.methods.code.**", "services/selfservice/strategies/code (strategy.py, sender.py), shared/aal.py"),
    _h(
        "selfservice.methods.password.config.haveibeenpwned_host",
        "services/selfservice/strategies/password/breach_range.py (asked only when set; the offline list always)",
    ),
    _h(
        "selfservice.methods.password.config.ignore_network_errors",
        "services/selfservice/strategies/password/breach_range.py",
    ),
    _h(
        "selfservice.methods.password.config.max_breaches",
        "services/selfservice/strategies/password/breach_range.py (the offline list, without counts, refuses any listed)",
    ),
    _ns(
        "selfservice.methods.password.config.migrate_hook.config.emit_analytics_event",
        "Warden traces every web hook call alike",
        True,
    ),
    _h(
        "selfservice.methods.password.config.migrate_hook.**",
        "services/identity/password_migration.py, called by services/identity/passwords.py",
    ),
    _h("selfservice.methods.password.config.*", "services/selfservice/strategies/password/policy.py"),
    _h("selfservice.methods.totp.config.issuer", "services/selfservice/strategies/totp/strategy.py"),
    _ns("selfservice.methods.webauthn.config.rp.icon", "no RP icon is sent (WebAuthn Level 2 dropped it)"),
    _h("selfservice.methods.webauthn.config.**", "services/selfservice/strategies/webauthn, passkey/ceremony.py"),
    _h("selfservice.methods.passkey.config.rp.*", "services/selfservice/strategies/passkey/ceremony.py"),
    _h(
        "selfservice.methods.passkey.config.**",
        "services/selfservice/strategies/passkey/options.py (authenticator_selection, attestation, timeouts)",
    ),
    _na("selfservice.methods.oidc.config.providers[].organization_id", "B2B SSO organizations are " + NETWORK),
    _na("selfservice.methods.oidc.config.providers[].fedcm_config_url", "FedCM is " + NETWORK),
    _ns(
        "selfservice.methods.oidc.config.providers[].net_id_token_origin_header",
        "FedCM token exchange is not implemented",
    ),
    _h(
        "selfservice.methods.oidc.config.providers[].aal2_*_values", "services/selfservice/strategies/oidc/assurance.py"
    ),
    _h(
        "selfservice.methods.oidc.config.providers[].account_linking_mode",
        "services/selfservice/strategies/oidc/linking.py (automatic: google and apple only)",
    ),
    _h(
        "selfservice.methods.oidc.config.providers[].update_identity_on_login",
        "services/selfservice/strategies/oidc/login_update.py",
    ),
    _h("selfservice.methods.oidc.config.**", "services/selfservice/strategies/oidc/config.py"),
    # --- storage, courier ------------------------------------------------------------------------
    _h("dsn", "shared/config/settings.py (dsn_for)"),
    _h("database.cleanup.batch_size", "warden/cleanup.py (`warden cleanup`, unless -b/--batch-size)"),
    _h("database.cleanup.sleep.tables", "warden/cleanup.py (`warden cleanup`, unless its flag; unset: no pause)"),
    _h("database.cleanup.older_than", "warden/cleanup.py (`warden cleanup`, unless --keep-last)"),
    _h("courier.templates.**", "services/courier/render/overrides.py"),
    _h("courier.**", "services/courier/config.py"),
    _ns("oauth2_provider.*", "the Ory Hydra login/consent integration is not implemented"),
    _na("preview.default_read_consistency_level", NETWORK),
    # --- serving, logging ------------------------------------------------------------------------
    _h("serve.*.socket.*", "shared/http/unix_socket.py, warden/process.py (when `serve.<port>.host` is `unix:<path>`)"),
    _h("serve.*.tls.**", "shared/http/tls.py, warden/process.py (HTTPS on the port; a half-given pair stops start-up)"),
    _h("serve.public.cors.debug", "shared/http/cors.py (each decision logged at INFO, without header values)"),
    _h("serve.public.cors.*", "shared/http/cors.py"),
    _h("serve.*.request_log.disable_for_health", "warden/process.py"),
    _h("serve.*.*", "shared/config/settings.py (Endpoint), warden/process.py"),
    _h("tracing", "shared/tracing/config.py (the otel provider over OTLP)"),
    _h("log.*", "shared/config/settings.py (Log), warden/cli.py, shared/logging.py"),
    # --- identities, secrets, hashing, cookies, sessions -----------------------------------------
    _h(
        "identity.schemas[].selfservice_selectable",
        "services/selfservice/flows/identity_schema.py (`?identity_schema=` of registration and login flows)",
    ),
    _h("identity.**", "services/identity/schemas/registry.py, services/selfservice/traits.py"),
    _h(
        "secrets.pagination",
        "shared/page_tokens.py (page tokens sealed with the first, opened with any; without it "
        "secrets.default, without both a built-in secret)",
    ),
    _h("secrets.*", "shared/config/settings.py (Secrets), shared/cookies.py, shared/cipher.py, shared/backup_codes.py"),
    _h("hashers.**", "services/identity/hashing/config.py"),
    _h("ciphers.algorithm", "shared/cipher.py"),
    _h("cookies.*", "shared/cookies.py"),
    _h("session.cookie.*", "shared/cookies.py"),
    _h("session.whoami.required_aal", "services/session/config.py"),
    _h("session.whoami.tokenizer.templates", "services/session/tokenizer.py"),
    _h("session.*", "services/session/config.py"),
    _h("security.account_enumeration.mitigate", "services/selfservice (registration/enumeration.py, service.py)"),
    _ns(
        "security.disallow_ref_in_identity_schemas",
        "Warden never loads a `$ref` to another document (file, http(s), base64), whatever the value: an "
        "identity schema with one fails at start-up (services/identity/schemas/meta.py)",
        True,
    ),
    _h("clients.http.*", "shared/http/egress.py"),
    _h("clients.smtp.disallow_private_ip_ranges", "services/courier/channels/smtp.py (shared/http/egress.py's rules)"),
    _h("clients.web_hook.header_allowlist", "services/selfservice/hooks/web_hook_calls.py"),
    # --- feature flags ----------------------------------------------------------------------------
    _na("feature_flags.cacheable_sessions", NETWORK),
    _na("feature_flags.cacheable_sessions_max_age", NETWORK),
    _na("feature_flags.legacy_allow_insecure_origins", NETWORK),
    _h(
        "feature_flags.use_continue_with_transitions",
        "services/selfservice/flows/recovery/handler.py (a recovered SPA gets continue_with, not 422; API flows "
        "get continue_with either way, and a retried flow's answer is the same either way)",
    ),
    _h(
        "feature_flags.choose_recovery_address",
        "services/selfservice/flows/recovery/choose_address.py (recovery by code asks for any identifier and "
        "sends the code to the recovery address the user picks, email or SMS)",
    ),
    _h(
        "feature_flags.legacy_continue_with_verification_ui",
        "services/selfservice/flows/registration/hook.py (a sign-up lists its verification flows in "
        "continue_with without the show_verification_ui hook; only the hook redirects a browser)",
    ),
    _h(
        "feature_flags.legacy_require_verified_login_error",
        "services/selfservice/hooks/require_verified_address.py (the form error 4000010, password logins "
        "only; off: a verification flow, flows/login/verified_address.py)",
    ),
    _h(
        "feature_flags.faster_session_extend",
        "services/session/api/admin.py (the admin extend answers 204 and does not read the session back)",
    ),
    _h(
        "feature_flags.password_profile_registration_node_group",
        "services/selfservice/strategies/password/registration.py (the group of a one-step form's traits)",
    ),
    _h(
        "feature_flags.legacy_oidc_registration_node_group",
        "services/selfservice/strategies/oidc/strategy.py (continue_registration: the traits a social "
        "sign-up still needs in the oidc group rather than default)",
    ),
    _h(
        "feature_flags.refresh_login_choose_address",
        "services/selfservice/strategies/code/refresh.py (a code refresh login offers the signed-in "
        "identity's addresses as Send code to buttons and sends only to the one pressed)",
    ),
    # --- the rest ---------------------------------------------------------------------------------
    _na("organizations", "deprecated, and " + NETWORK),
    _na("enterprise.identity_schema_fallback_url_template", "an enterprise-licence feature, " + NETWORK),
    _h("revision", "warden/cli.py (_where: the start-up banner; Kratos has no /health/config to show it)"),
    _na("version", "names the Kratos release a file was written for; Warden speaks one API"),
    _h("dev", "shared/config/loader.py (the same as --dev)"),
    _na("help", CLI_FLAG),
    _na("config", CLI_FLAG),
    _na("sqa-opt-out", CLI_FLAG + "; Warden sends no usage statistics"),
    _na("watch-courier", CLI_FLAG + "; every Warden courier dispatches"),
    _na("expose-metrics-port", CLI_FLAG + "; metrics are on the admin port"),
)


@cache
def _compiled() -> tuple[tuple[re.Pattern[str], Row], ...]:
    return tuple((_regex(row.pattern), row) for row in ROWS)


def _regex(pattern: str) -> re.Pattern[str]:
    parts = []
    for segment in pattern.split("."):
        if segment == "**":
            parts.append(r".+")
        elif segment == "*":
            parts.append(r"[^.]+")
        else:
            parts.append(re.escape(segment).replace(r"\*", r"[^.]*"))
    return re.compile(r"\.".join(parts) + r"\Z")


def row_for(leaf: str) -> Row | None:
    """The first row whose pattern matches `leaf` (a path from `shared.config.leaves`), or None."""
    return next((row for regex, row in _compiled() if regex.match(leaf)), None)
