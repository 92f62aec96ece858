"""shared.config.coverage: every key of Kratos's config schema is decided, and a config that sets a
key Warden ignores is told so at load time, naming the key and not its value."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.selfservice.hooks import HOOKS as HOOK_FACTORIES
from shared.config import load_settings
from shared.config.coverage import HONOURED, IMPLEMENTED_HOOKS, NOT_APPLICABLE, NOT_SUPPORTED, ROWS, row_for
from shared.config.ignored_keys import ignored_key_warnings
from shared.config.leaves import schema_leaves, set_leaves
from shared.config.tree import MISSING, deep_merge
from shared.errors import ConfigError
from tests.unit.test_config import MINIMAL, QUICKSTART, QUICKSTARTS

# What each quickstart is told: nothing, as Warden honours every key they set
# (`use_continue_with_transitions` included, since a recovered SPA gets continue_with).
QUICKSTART_WARNINGS: dict[str, list[str]] = {
    "all-strategies": [],
    "email-password": [],
    "passkey": [],
    "phone-password": [],
    "webauthn": [],
}


def test_every_leaf_of_kratoss_schema_is_decided() -> None:
    undecided = [leaf for leaf in schema_leaves() if row_for(leaf) is None]
    assert undecided == [], "decide these in shared/config/coverage.py"


def test_every_row_decides_some_leaf_of_the_schema() -> None:
    """A row naming a key the schema lacks (a typo, a key Kratos removed) or one shadowed by an
    earlier row decides nothing: it would tell a reader something untrue."""
    deciding = Counter(row_for(leaf) for leaf in schema_leaves())
    assert [row.pattern for row in ROWS if not deciding[row]] == []


def test_every_row_says_why() -> None:
    assert all(row.note.strip() for row in ROWS)
    assert {row.fate for row in ROWS} == {HONOURED, NOT_SUPPORTED, NOT_APPLICABLE}
    assert all(not row.same_as for row in ROWS if row.fate != NOT_SUPPORTED)


def test_the_walk_reaches_array_items_refs_and_branches() -> None:
    leaves = schema_leaves()
    assert "selfservice.methods.oidc.config.providers[].client_id" in leaves  # array of objects
    assert "selfservice.flows.login.after.password.hooks[].config.auth.config.user" in leaves  # $ref, anyOf
    assert "courier.channels[].request_config.url" in leaves
    assert leaves["session.cookie.name"] == "ory_kratos_session"
    assert leaves["oauth2_provider.url"] is MISSING
    assert "selfservice.allowed_return_urls" in leaves  # an array of strings is one leaf


def test_set_leaves_names_keys_as_written() -> None:
    tree = {"identity": {"schemas": [{"id": "a", "url": "file:///a"}]}, "bus": {"url": "memory"}}
    assert list(set_leaves(tree, schema_leaves())) == [
        ("identity.schemas[].id", "identity.schemas[0].id", "a"),
        ("identity.schemas[].url", "identity.schemas[0].url", "file:///a"),
    ]  # Warden's own `bus` is no Kratos leaf


def hook(**config: Any) -> dict[str, Any]:
    return {"hook": "web_hook", "config": {"url": "https://hooks.example/x", **config}}


def test_a_set_unsupported_key_is_warned_about_with_its_reason() -> None:
    tree = {
        "oauth2_provider": {"url": "https://hydra.example:4445"},
        "feature_flags": {"legacy_continue_with_verification_ui": True},  # honoured: no warning
        "selfservice": {
            "methods": {"webauthn": {"config": {"rp": {"icon": "https://id.example/logo.png"}}}},
            "flows": {"login": {"after": {"password": {"hooks": [hook(), hook(emit_analytics_event=False)]}}}},
        },
    }
    assert ignored_key_warnings(tree) == [  # in the file's order
        "oauth2_provider.url has no effect in Warden (the Ory Hydra login/consent integration is not implemented)",
        "selfservice.methods.webauthn.config.rp.icon has no effect in Warden "
        "(no RP icon is sent (WebAuthn Level 2 dropped it))",
        "selfservice.flows.login.after.password.hooks[1].config.emit_analytics_event has no effect in Warden "
        "(Warden traces every web hook call alike)",
    ]


def test_a_tracing_provider_other_than_otel_is_said_to_turn_tracing_off() -> None:
    assert ignored_key_warnings({"tracing": {"provider": "jaeger"}}) == [
        "tracing.provider has no effect in Warden (only `otel`, over OTLP, is implemented: tracing is off)"
    ]
    assert ignored_key_warnings({"tracing": {"provider": "otel"}}) == []


@pytest.mark.parametrize(
    "tree",
    [
        {"feature_flags": {"choose_recovery_address": False}},  # Kratos's default
        {"feature_flags": {"refresh_login_choose_address": True}},  # honoured: strategies/code/refresh.py
        {
            "feature_flags": {
                "legacy_continue_with_verification_ui": True,
                "legacy_require_verified_login_error": True,
                "password_profile_registration_node_group": "password",
                "legacy_oidc_registration_node_group": True,
            }
        },  # honoured: registration's continue_with, require_verified_address, the traits' node groups
        {"selfservice": {"flows": {"registration": {"enable_legacy_one_step": True}}}},  # what Warden does
        {
            "selfservice": {
                "methods": {
                    "passkey": {
                        "config": {
                            "authenticator_selection": {
                                "attachment": "cross-platform",
                                "user_verification": "required",
                            },
                            "attestation": {"preference": "direct"},
                            "timeouts": {"registration": "90s", "login": "45s"},
                        }
                    }
                }
            }
        },  # honoured: the passkey ceremony's options
        {
            "selfservice": {
                "methods": {"oidc": {"config": {"providers": [{"id": "g", "update_identity_on_login": "automatic"}]}}}
            }
        },  # honoured: services/selfservice/strategies/oidc/login_update.py
        {
            "selfservice": {
                "methods": {"oidc": {"config": {"providers": [{"id": "g", "account_linking_mode": "automatic"}]}}}
            }
        },  # honoured: services/selfservice/strategies/oidc/linking.py
        {"session": {"lifespan": "1h"}, "version": "v1.3.0", "sqa-opt-out": True},  # honoured, not applicable
        {"bus": {"url": "memory"}, "session": {"inactivity_timeout": "1h"}},  # Warden's own keys
        {"secrets": {"pagination": ["a-pagination-secret-of-32-chars!"]}},  # honoured: shared/page_tokens.py
    ],
)
def test_no_warning_for_defaults_same_behaviour_or_other_fates(tree: dict[str, Any]) -> None:
    assert ignored_key_warnings(tree) == []


def test_a_value_is_never_in_the_warning(tmp_path: Path) -> None:
    secret = "AAAA-a-password-not-to-be-logged"
    warnings = ignored_key_warnings({"oauth2_provider": {"url": f"https://admin:{secret}@hydra.example/"}})
    assert len(warnings) == 1 and secret not in warnings[0]


def test_loaded_settings_carry_the_warnings_of_what_the_file_sets(tmp_path: Path) -> None:
    config = tmp_path / "kratos.yml"
    config.write_text(
        yaml.safe_dump(deep_merge(MINIMAL, {"oauth2_provider": {"url": "https://hydra.example/"}})), encoding="utf-8"
    )
    settings = load_settings([config], {"OAUTH2_PROVIDER_OVERRIDE_RETURN_TO": "true"})
    assert settings.ignored_keys == (
        "oauth2_provider.url has no effect in Warden (the Ory Hydra login/consent integration is not implemented)",
        "oauth2_provider.override_return_to has no effect in Warden "
        "(the Ory Hydra login/consent integration is not implemented)",
    )


def test_warden_s_own_defaults_are_not_warned_about(tmp_path: Path) -> None:
    """No file at all: the whole dev config is Warden's, and none of it is the user's doing."""
    settings = load_settings([], {}, dev=True)
    assert settings.ignored_keys == ()


@pytest.mark.parametrize("name", QUICKSTARTS)
def test_each_quickstart_is_told_only_what_is_true(name: str) -> None:
    settings = load_settings([QUICKSTART / name / "kratos.yml"], {"DSN": "memory"}, dev=True)
    assert list(settings.ignored_keys) == QUICKSTART_WARNINGS[name]


def test_a_hook_warden_lacks_is_warned_about_at_start_up() -> None:
    """Kratos's schema refuses an unknown hook name at load time (so does Warden); the names it
    admits that Warden has no hook for are told at start-up, not first when a flow skips them."""
    flows = {
        "login": {"after": {"hooks": [{"hook": "verification"}], "password": {"hooks": [{"hook": "session"}]}}},
        "settings": {"after": {"profile": {"hooks": [{"hook": "show_verification_ui"}, {"hook": "b2b_sso"}]}}},
    }
    assert ignored_key_warnings({"selfservice": {"flows": flows}}) == [
        "selfservice.flows.login.after.hooks[0].hook has no effect in Warden "
        "(the `verification` hook is not implemented: it is skipped)",
        "selfservice.flows.settings.after.profile.hooks[1].hook has no effect in Warden "
        "(the `b2b_sso` hook is not implemented: it is skipped)",
    ]


def test_a_flow_wide_web_hook_that_could_interrupt_registration_or_settings_is_warned_about() -> None:
    """Kratos takes the web hooks that run before registration or settings save the identity from
    the method's own list only: in the flow-wide list such a hook never runs, and start-up says so."""

    def web_hook(**config: Any) -> dict[str, Any]:
        return {"hook": "web_hook", "config": {"url": "https://hooks.example/", **config}}

    after = {"hooks": [web_hook(), web_hook(can_interrupt=True), web_hook(response={"parse": True, "ignore": True})]}
    flows = {
        "registration": {"after": after},
        "settings": {"after": {"hooks": [web_hook(response={"parse": True})]}},
        "login": {"after": {"hooks": [web_hook(can_interrupt=True)]}},  # login's list is one list: it runs
    }
    assert ignored_key_warnings({"selfservice": {"flows": flows}}) == [
        "selfservice.flows.registration.after.hooks[1] has no effect (as in Kratos, a web_hook that can "
        "interrupt runs in registration only from after.<method>.hooks, never the flow-wide list)",
        "selfservice.flows.settings.after.hooks[0] has no effect (as in Kratos, a web_hook that can "
        "interrupt runs in settings only from after.<method>.hooks, never the flow-wide list)",
    ]


def test_the_implemented_hook_names_are_the_hooks_warden_runs() -> None:
    assert IMPLEMENTED_HOOKS == set(HOOK_FACTORIES)


def test_an_unknown_hook_name_is_refused_at_load_time(tmp_path: Path) -> None:
    config = tmp_path / "kratos.yml"
    hooks = {"selfservice": {"flows": {"login": {"after": {"hooks": [{"hook": "sesion"}]}}}}}
    config.write_text(yaml.safe_dump(deep_merge(MINIMAL, hooks)), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"selfservice\.flows\.login\.after\.hooks\[0\]"):
        load_settings([config], {})
