"""`selfservice.methods.password.config.migrate_hook` as the identity service reads it: off unless
`enabled`, enabled without a URL stops start-up naming the key, and the call waits
`webhooks.timeout` as a synchronous `web_hook` does."""

from __future__ import annotations

from typing import Any

import pytest

from services.identity.password_migration import MigrationHookConfig
from shared.config import Settings
from shared.errors import ConfigError


def hook(migrate_hook: dict[str, Any], **top: Any) -> MigrationHookConfig | None:
    raw = {"selfservice": {"methods": {"password": {"config": {"migrate_hook": migrate_hook}}}}, **top}
    return MigrationHookConfig.from_settings(Settings(dsn="memory", raw=raw))


def test_the_hook_is_off_unless_enabled() -> None:
    assert hook({"config": {"url": "https://legacy.example/verify"}}) is None
    assert hook({"enabled": False, "config": {"url": "https://legacy.example/verify"}}) is None


def test_enabled_without_a_url_stops_start_up_naming_the_key() -> None:
    with pytest.raises(
        ConfigError, match=r"^config: selfservice\.methods\.password\.config\.migrate_hook\.config\.url"
    ):
        hook({"enabled": True, "config": {"headers": {"X-Tenant": "a"}}})


def test_the_call_takes_the_configs_headers_auth_and_web_hook_timeout() -> None:
    auth = {"type": "basic_auth", "config": {"user": "warden", "password": "s3cret"}}
    config = {"url": "https://legacy.example/verify", "headers": {"X-Tenant": "a"}, "auth": auth}
    assert hook({"enabled": True, "config": config}) == MigrationHookConfig(
        "https://legacy.example/verify", 3.0, {"X-Tenant": "a"}, auth
    )
    slow = hook({"enabled": True, "config": config}, webhooks={"timeout": "10s"})
    assert slow is not None and slow.timeout == 10.0
