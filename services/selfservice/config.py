"""The self-service settings Warden reads from `kratos.yml` (`selfservice.*`), resolved once at start."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from shared.aal import AssuranceRules
from shared.units import parse_duration

FLOW_KINDS = ("login", "registration", "settings", "recovery", "verification")
# The flows whose `after` step has a hook list per method besides the flow-wide one (Kratos's
# schema); recovery's and verification's `after`, and every `before`, have the flow-wide list only.
PER_METHOD_HOOKS = ("login", "registration", "settings")
# The flows that save the identity between their `pre` and `post` hooks. Kratos takes the hooks
# that run before the save (the interrupting web hooks) from the method's own list alone, never
# from the flow-wide one (`PostRegistrationPrePersistHooks`, `PostSettingsPrePersistHooks`).
SAVED_BETWEEN_PHASES = ("registration", "settings")
# Schema-valid names open-source Kratos does not have: it skips them, so a method list naming
# only these counts as naming no hook (its flow-wide list runs instead).
NOT_IN_KRATOS = frozenset({"b2b_sso"})
# `%2f` and `%5c`: one segment to a browser, two separate ones to a check that decodes first.
ENCODED_SEPARATOR = re.compile(r"%(2f|5c)", re.IGNORECASE)
DOT_SEGMENTS = (".", "..")


@dataclass(frozen=True)
class FlowConfig:
    kind: str
    ui_url: str
    lifespan: timedelta
    enabled: bool
    after_return_url: str | None
    hooks: dict[str, Any]  # {"before": {...}, "after": {...}} as in kratos.yml
    # login: unified | identifier_first; registration: unified | profile_first. Only as the file
    # says: Kratos's schema defaults registration to profile_first, Warden keeps one step unless asked.
    style: str = "unified"


@dataclass(frozen=True)
class SelfserviceConfig:
    public_base_url: str
    default_return_url: str
    allowed_return_urls: tuple[str, ...]
    error_ui_url: str
    logout_return_url: str | None
    flows: dict[str, FlowConfig]
    methods: dict[str, dict[str, Any]]
    assurance: AssuranceRules = AssuranceRules()  # what counts as a second factor here
    # `feature_flags.use_continue_with_transitions`: an SPA's recovery ends in a 200 with
    # `continue_with` rather than a 422 browser_location_change_required.
    continue_with_transitions: bool = False
    # `feature_flags.choose_recovery_address`: a new recovery flow by code asks for any identifier of
    # the account and offers its recovery addresses, masked, to send the code to (Kratos's recovery
    # v2; services/selfservice/flows/recovery/choose_address.py).
    choose_recovery_address: bool = False
    # `feature_flags.refresh_login_choose_address`: a code refresh login offers the signed-in identity's
    # code addresses as buttons instead of asking for an identifier (strategies/code/refresh.py).
    refresh_login_choose_address: bool = False
    # `feature_flags.legacy_continue_with_verification_ui`: a registration's `continue_with` lists
    # every verification flow it made, hook or not (flows/registration/hook.py); else only the
    # `show_verification_ui` hook lists one.
    legacy_continue_with_verification_ui: bool = False
    # `feature_flags.legacy_require_verified_login_error`: `require_verified_address` refuses a
    # password login with the form error 4000010 and lets other methods through; else it sends a
    # verification code and answers with the verification flow (hooks/require_verified_address.py).
    legacy_require_verified_login_error: bool = False
    # `feature_flags.password_profile_registration_node_group`: the group of the traits a one-step
    # registration form shows beside the password (`default`, or Kratos's old `password`).
    password_profile_group: str = "default"
    # `feature_flags.legacy_oidc_registration_node_group`: the traits a social sign-up still needs
    # are in the `oidc` group rather than `default` (strategies/oidc/strategy.py).
    legacy_oidc_registration_group: bool = False

    @classmethod
    def from_settings(cls, settings: Any) -> SelfserviceConfig:
        get = settings.get
        base = settings.serve.public.base_url
        flows = {kind: _flow(settings, kind, base) for kind in FLOW_KINDS}
        return cls(
            public_base_url=base,
            default_return_url=get("selfservice.default_browser_return_url") or base,
            allowed_return_urls=tuple(get("selfservice.allowed_return_urls") or ()),
            error_ui_url=get("selfservice.flows.error.ui_url") or urljoin(base, "ui/error"),
            logout_return_url=get("selfservice.flows.logout.after.default_browser_return_url"),
            flows=flows,
            methods=dict(get("selfservice.methods") or {}),
            assurance=AssuranceRules.from_settings(settings),
            continue_with_transitions=bool(get("feature_flags.use_continue_with_transitions")),
            choose_recovery_address=bool(get("feature_flags.choose_recovery_address")),
            refresh_login_choose_address=bool(get("feature_flags.refresh_login_choose_address")),
            legacy_continue_with_verification_ui=bool(get("feature_flags.legacy_continue_with_verification_ui")),
            legacy_require_verified_login_error=bool(get("feature_flags.legacy_require_verified_login_error")),
            # Kratos reads anything but `password` as `default` (SelfServiceFlowRegistrationPasswordMethodProfileGroup).
            password_profile_group="password"
            if get("feature_flags.password_profile_registration_node_group") == "password"
            else "default",
            legacy_oidc_registration_group=bool(get("feature_flags.legacy_oidc_registration_node_group")),
        )

    def method_enabled(self, method: str, default: bool = False) -> bool:
        return bool((self.methods.get(method) or {}).get("enabled", default))

    def hooks(
        self, kind: str, when: str, method: str | None = None, *, before_save: bool = False
    ) -> list[dict[str, Any]]:
        """The hooks of a flow's `before` or `after` step, from the one list `hooks_key` names:
        Kratos never runs a method's list and the flow-wide one together. With `before_save`, those
        that may run before registration or settings save the identity, which Kratos reads from the
        method's own list only: none come from the flow-wide one."""
        key = self.hooks_key(kind, when, method)
        if before_save and when == "after" and kind in SAVED_BETWEEN_PHASES and key == "after.hooks":
            return []
        section = self.flows[kind].hooks.get(when) or {}
        if key != f"{when}.hooks":
            section = section.get(method) or {}
        return list(section.get("hooks") or [])

    def hooks_key(self, kind: str, when: str, method: str | None = None) -> str:
        """Where a step's hooks are read from, below `selfservice.flows.<kind>`: for the `after` step
        of login, registration and settings, `after.<method>.hooks` when that names a hook, else the
        flow-wide `after.hooks`, as Kratos chooses (an empty or absent method list is no choice)."""
        section = self.flows[kind].hooks.get(when) or {}
        if when == "after" and method and kind in PER_METHOD_HOOKS:
            own = (section.get(method) or {}).get("hooks") or []
            if any(isinstance(entry, dict) and entry.get("hook") not in NOT_IN_KRATOS for entry in own):
                return f"{when}.{method}.hooks"
        return f"{when}.hooks"

    def after_return_url(self, kind: str, method: str | None = None) -> str:
        return self.configured_after_url(kind, method) or self.default_return_url

    def configured_after_url(self, kind: str, method: str | None = None) -> str | None:
        """`<kind>.after.<method>.default_browser_return_url`, else `<kind>.after.default_browser_return_url`,
        else None: for the flows (settings) whose fallback is not the global default."""
        section = self.flows[kind].hooks.get("after") or {}
        by_method = (section.get(method) or {}).get("default_browser_return_url") if method else None
        return by_method or self.flows[kind].after_return_url

    def absolute_return_to(self, url: str) -> str:
        """A relative `return_to` (`/app/dashboard`) takes the scheme and host of the default browser
        return URL, as Kratos's `SecureRedirectTo` does; then it is checked like any other. Only a
        path from the root is relative here: `//host` names a host, and `app/x` is refused."""
        if url.startswith("/") and not url.startswith(("//", "/\\")):
            base = urlsplit(self.default_return_url)
            return f"{base.scheme}://{base.netloc}{url}"
        return url

    def return_to_allowed(self, url: str) -> bool:
        """Kratos's rule: same scheme and host as an allowed URL, and under its path."""
        if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url) or "\\" in url:
            return False  # urlsplit would quietly drop them; the raw string is what goes into Location
        try:
            target = urlsplit(url)
        except ValueError:  # `http://[`, or a host NFKC folds into a separator (`／`): refused, not a bug
            return False
        if not target.scheme or not target.netloc or target.username or target.password:
            return False
        path = plain_path(target.path)
        if path is None:
            return False
        for allowed in (*self.allowed_return_urls, self.default_return_url, self.public_base_url):
            base = urlsplit(allowed)
            prefix = unquote(base.path).rstrip("/")
            if (target.scheme, target.netloc.lower()) == (base.scheme, base.netloc.lower()) and (
                not prefix or path == prefix or path.startswith(prefix + "/")
            ):
                return True
        return False


def plain_path(raw: str) -> str | None:
    """A URL's path decoded, or None when a browser would ask for another path than the decoded one
    reads: an encoded separator, or a dot segment, plain or encoded (`..`, `%2e%2e`), which the
    browser resolves itself. Kratos only decodes; normalising instead would pass
    `/attacker-area/..%2fdashboard` as `/dashboard`, and decoding alone `/dashboard/../admin`."""
    if ENCODED_SEPARATOR.search(raw) or any(unquote(segment) in DOT_SEGMENTS for segment in raw.split("/")):
        return None
    return unquote(raw) or "/"


def _flow(settings: Any, kind: str, base: str) -> FlowConfig:
    prefix = f"selfservice.flows.{kind}"
    get = settings.get
    enabled = get(f"{prefix}.enabled")
    return FlowConfig(
        kind=kind,
        ui_url=get(f"{prefix}.ui_url") or urljoin(base, f"ui/{kind}"),
        lifespan=parse_duration(get(f"{prefix}.lifespan") or "1h"),
        enabled=True if enabled is None else bool(enabled),
        after_return_url=get(f"{prefix}.after.default_browser_return_url"),
        hooks={"before": get(f"{prefix}.before") or {}, "after": get(f"{prefix}.after") or {}},
        style=_style(settings, prefix),
    )


def _style(settings: Any, prefix: str) -> str:
    """`style` as written; Kratos lets the deprecated `registration.enable_legacy_one_step: true`
    win over it (one step), and so does Warden."""
    if written(settings, f"{prefix}.enable_legacy_one_step") is True:
        return "unified"
    return written(settings, f"{prefix}.style") or "unified"


def written(settings: Any, path: str) -> Any:
    """A key as the config file wrote it, without the schema's default."""
    node: Any = settings.raw
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node
