"""A started Warden says, once, each key of its kratos.yml it does not act on (shared.config.coverage),
and nothing about the keys it does."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.factories import running_warden, settings_for


def test_start_up_warns_about_each_ignored_key_the_file_sets(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    extra = {
        "oauth2_provider": {"url": "https://hydra.example:4445/", "override_return_to": True},
        "feature_flags": {
            "legacy_continue_with_verification_ui": True,
            "choose_recovery_address": True,
            "refresh_login_choose_address": True,
        },
        "revision": "2026-12-04",  # honoured (the start-up banner shows it): no warning
        # The feature flags are honoured too (a sign-up's continue_with, recovery by a chosen
        # address, a code refresh login by a chosen address): no warning
    }
    settings = settings_for(tmp_path, "memory", extra)
    with caplog.at_level(logging.WARNING, logger="warden.process"), running_warden(settings):
        pass
    lines = [r.getMessage() for r in caplog.records if "has no effect in Warden" in r.getMessage()]
    assert sorted(lines) == [
        "config: oauth2_provider.override_return_to has no effect in Warden (the Ory Hydra login/consent "
        "integration is not implemented)",
        "config: oauth2_provider.url has no effect in Warden (the Ory Hydra login/consent integration is not "
        "implemented)",
    ]


def test_a_file_of_honoured_keys_starts_without_such_warnings(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="warden.process"), running_warden(settings_for(tmp_path, "memory")):
        pass
    assert not [r for r in caplog.records if "has no effect in Warden" in r.getMessage()]
