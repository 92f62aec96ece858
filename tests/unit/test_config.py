"""shared.config: Kratos-compatible loading, validation, environment overrides and secrets."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from services.identity.throttle import ThrottlePolicy
from services.session.config import SessionConfig
from shared.config import Settings, load_settings, read_schema_document, resolve_schema_location
from shared.config.defaults import DEFAULT_IDENTITY_SCHEMA, DEV_COOKIE_SECRET
from shared.config.tree import deep_merge
from shared.errors import ConfigError

QUICKSTART = Path(__file__).parents[1] / "fixtures" / "quickstart"
QUICKSTARTS = ("all-strategies", "email-password", "passkey", "phone-password", "webauthn")
SCHEMA_B64 = "base64://" + base64.b64encode(b'{"type": "object"}').decode()
MINIMAL: dict[str, Any] = {
    "dsn": "memory",
    "identity": {"schemas": [{"id": "default", "url": SCHEMA_B64}]},
    "selfservice": {"default_browser_return_url": "http://127.0.0.1:4455/"},
}


def write(directory: Path, name: str, data: dict[str, Any]) -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def load(tmp_path: Path, extra: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> Settings:
    config = write(tmp_path, "kratos.yml", deep_merge(MINIMAL, extra or {}))
    return load_settings([config], environ or {})


def config_error(tmp_path: Path, extra: dict[str, Any], environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, extra, environ)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("config: ")
    return message


# --- Kratos's quickstart configs ------------------------------------------------------------------


@pytest.mark.parametrize("name", QUICKSTARTS)
def test_each_quickstart_loads(name: str) -> None:
    # passkey's kratos.yml has no dsn: Kratos's docker-compose gives it as DSN, and so do we.
    environ = {"DSN": "memory"} if name == "passkey" else {}
    settings = load_settings([QUICKSTART / name / "kratos.yml"], environ)
    assert settings.dsn == "memory"
    assert settings.log.format == "text" and settings.log.level == "debug"
    assert settings.log.leak_sensitive_values is True
    assert settings.secrets.cookie == ["PLEASE-CHANGE-ME-I-AM-VERY-INSECURE"]
    assert settings.secrets.cipher == ["32-LONG-SECRET-NOT-SECURE-AT-ALL"]
    assert settings.serve.admin.base_url == "http://kratos:4434/"
    assert settings.config_dir == (QUICKSTART / name).resolve()
    url = settings.get("identity.schemas.0.url")
    assert settings.resolve_schema_location(url) == str((QUICKSTART / name / "identity.schema.json").resolve())


def test_quickstart_without_a_dsn_fails_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"^config: dsn: missing required key \(a database URL: .*--dev uses"):
        load_settings([QUICKSTART / "passkey" / "kratos.yml"], {})


def test_quickstart_version_and_dev_keys_are_accepted(tmp_path: Path) -> None:
    settings = load(tmp_path, {"version": "v0.13.0", "dev": True})
    assert settings.dev is True
    assert settings.secrets.cookie == [DEV_COOKIE_SECRET]


# --- no config file ---------------------------------------------------------------------------------


def test_no_config_gives_a_complete_dev_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings([], {})
    assert settings.dsn == f"sqlite://{tmp_path.resolve() / 'warden.sqlite'}?_fk=true"
    assert settings.config_dir == tmp_path.resolve()
    assert settings.serve.public.base_url == "http://127.0.0.1:4433/"
    assert settings.serve.admin.port == 4434 and settings.serve.public.host == ""
    assert settings.get("selfservice.flows.login.ui_url") == "http://127.0.0.1:4433/ui/login"
    assert settings.get("selfservice.flows.error.ui_url") == "http://127.0.0.1:4433/ui/error"
    assert settings.get("selfservice.default_browser_return_url") == "http://127.0.0.1:4433/ui/welcome"
    assert settings.get("selfservice.methods.password.enabled") is True
    dev = load_settings([], {}, dev=True)
    with_secret = load_settings([], {"SECRETS_DEFAULT": "a-default-secret-of-32-characters"})
    for flow in ("recovery", "verification"):  # with mail written to ./.warden/mail/ by the courier
        assert dev.get(f"selfservice.flows.{flow}.enabled") is True
        assert with_secret.get(f"selfservice.flows.{flow}.enabled") is True
        assert dev.get(f"selfservice.flows.{flow}.use") == "code"
        # Their codes need a secret: without dev mode's placeholder or a configured one, they stay off.
        assert settings.get(f"selfservice.flows.{flow}.enabled") is False
    assert settings.get("selfservice.methods.code.enabled") is True
    schema_url = settings.get("identity.schemas.0.url")
    assert settings.resolve_schema_location(schema_url) == str(DEFAULT_IDENTITY_SCHEMA.resolve())
    assert settings.log.level == "info" and settings.log.format == "json"
    assert settings.secrets.cookie == []  # outside dev mode, nothing is made up


def test_the_admin_port_is_local_in_dev_mode_and_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings([], {}).serve.admin.host == "127.0.0.1"
    assert load_settings([], {"SERVE_ADMIN_HOST": "0.0.0.0"}).serve.admin.host == "0.0.0.0"
    config = QUICKSTART / "email-password" / "kratos.yml"
    assert load_settings([config], {}, dev=True).serve.admin.host == "127.0.0.1"
    assert load_settings([config], {}).serve.admin.host == "", "a production config keeps Kratos's every-interface"
    assert load_settings([config], {}, dev=True).serve.public.host == ""


def test_development_mail_comes_from_warden_localhost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not from Kratos's no-reply@ory.kratos.sh, someone else's domain; a configured sender wins."""
    monkeypatch.chdir(tmp_path)
    sender = "courier.smtp.from_address"
    assert load_settings([], {}).get(sender) == "no-reply@warden.localhost"
    config = QUICKSTART / "email-password" / "kratos.yml"
    assert load_settings([config], {}, dev=True).get(sender) == "no-reply@warden.localhost"
    assert load_settings([config], {}).get(sender) == "no-reply@ory.kratos.sh", "outside dev mode: Kratos's default"
    configured = load_settings([], {"COURIER_SMTP_FROM_ADDRESS": "id@example.com"}, dev=True)
    assert configured.get(sender) == "id@example.com"


def test_ui_brand_is_validated(tmp_path: Path) -> None:
    brand = {"name": "Acme ID", "logo_url": "https://cdn.example.com/logo.svg", "accent_color": "#0a7"}
    assert load(tmp_path, {"ui": {"brand": brand}}).get("ui.brand.accent_color") == "#0a7"
    assert load(tmp_path).get("ui.brand.name") == "Warden"
    assert "ui.brand.accent_color" in config_error(tmp_path, {"ui": {"brand": {"accent_color": "red; x: y"}}})
    assert "ui.brand.logo_url" in config_error(tmp_path, {"ui": {"brand": {"logo_url": "javascript:alert(1)"}}})
    assert "ui.brand.logo_url" in config_error(tmp_path, {"ui": {"brand": {"logo_url": "//evil.example/x.png"}}})
    assert config_error(tmp_path, {"ui": {"theme": "dark"}}) == "config: ui.theme: unknown key"


def test_no_config_in_dev_mode_uses_the_placeholder_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings([], {}, dev=True)
    assert settings.dev is True
    assert settings.secrets.cookie == [DEV_COOKIE_SECRET]


def test_no_config_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings([], {"DSN": "memory", "SERVE_PUBLIC_BASE_URL": "https://id.example.com/"})
    assert settings.dsn == "memory"
    assert settings.get("selfservice.flows.settings.ui_url") == "https://id.example.com/ui/settings"


def test_the_default_identity_schema_is_email_and_password() -> None:
    schema = json.loads(DEFAULT_IDENTITY_SCHEMA.read_text())
    email = schema["properties"]["traits"]["properties"]["email"]
    assert email["format"] == "email"
    assert email["ory.sh/kratos"] == {
        "credentials": {"password": {"identifier": True}, "code": {"identifier": True, "via": "email"}},
        "verification": {"via": "email"},
        "recovery": {"via": "email"},
    }


# --- validation ---------------------------------------------------------------------------------------


def test_memory_dsn_is_accepted(tmp_path: Path) -> None:
    assert load(tmp_path).dsn == "memory"


def test_unknown_top_level_key_fails_naming_it(tmp_path: Path) -> None:
    assert config_error(tmp_path, {"serverz": {}}) == "config: serverz: unknown key"


def test_unknown_nested_key_fails_with_its_full_path(tmp_path: Path) -> None:
    assert config_error(tmp_path, {"serve": {"public": {"portt": 1}}}) == "config: serve.public.portt: unknown key"
    assert config_error(tmp_path, {"selfservice": {"flowz": {}}}) == "config: selfservice.flowz: unknown key"


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"bus": {"urll": "memory"}}, "bus.urll"),
        ({"cache": {"ttl": 1}}, "cache.ttl"),
        ({"services": {"billing": {}}}, "services.billing"),
        ({"services": {"identity": {"dsnn": "memory"}}}, "services.identity.dsnn"),
    ],
)
def test_unknown_keys_in_wardens_sections_fail(tmp_path: Path, extra: dict[str, Any], path: str) -> None:
    assert config_error(tmp_path, extra) == f"config: {path}: unknown key"


def test_wrong_type_fails_naming_the_path(tmp_path: Path) -> None:
    message = config_error(tmp_path, {"serve": {"public": {"port": "abc"}}})
    assert message == "config: serve.public.port: 'abc' is not of type 'integer'"
    assert config_error(tmp_path, {"bus": {"max_deliveries": "x"}}).startswith("config: bus.max_deliveries: ")


def test_a_missing_required_key_is_named(tmp_path: Path) -> None:
    message = config_error(tmp_path, {"selfservice": {"flows": {"recovery": {"enabled": True}}}})
    assert message == "config: courier: missing required key"


def test_an_invalid_secret_is_not_echoed(tmp_path: Path) -> None:
    message = config_error(tmp_path, {"secrets": {"cookie": ["too-short"]}})
    assert message.startswith("config: secrets.cookie[0]: ") and "too-short" not in message


def test_an_unreadable_config_file_fails(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings([tmp_path / "absent.yml"], {})
    broken = tmp_path / "broken.yml"
    broken.write_text("dsn: [unclosed\n")
    with pytest.raises(ConfigError, match="YAML syntax error") as caught:
        load_settings([broken], {})
    assert str(caught.value).startswith(f"config: {broken}:2:1: ") and "<unicode string>" not in str(caught.value)
    assert "\n" not in str(caught.value)


# --- environment ------------------------------------------------------------------------------------


def test_environment_overrides_in_kratos_style(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        environ={
            "DSN": "postgres://warden:secret@db:5432/warden",
            "SERVE_PUBLIC_PORT": "8080",
            "SECRETS_COOKIE": "a-cookie-secret-of-some-length",
            "SELFSERVICE_DEFAULT_BROWSER_RETURN_URL": "https://app.example.com/",
            "BUS_URL": "amqp://user:pass@rabbit:5672/warden",
            "CACHE_URL": "redis://redis:6379/0",
            "LOG_LEVEL": "warning",
            "SERVICES_IDENTITY_DSN": "memory",
            "SERVICES_INTERNAL_TOKEN": "an-internal-t0ken-for-tests",
            "SELFSERVICE_METHODS_PASSWORD_ENABLED": "false",
        },
    )
    assert settings.dsn == "postgres://warden:secret@db:5432/warden"
    assert settings.serve.public.port == 8080
    assert settings.serve.public.base_url == "http://127.0.0.1:8080/"
    assert settings.secrets.cookie == ["a-cookie-secret-of-some-length"]
    assert settings.get("selfservice.default_browser_return_url") == "https://app.example.com/"
    assert settings.bus.url == "amqp://user:pass@rabbit:5672/warden"
    assert settings.cache.url == "redis://redis:6379/0"
    assert settings.log.level == "warning"
    assert settings.dsn_for("identity") == "memory"
    assert settings.dsn_for("session") == settings.dsn
    assert settings.internal_token == "an-internal-t0ken-for-tests"
    assert settings.get("selfservice.methods.password.enabled") is False


def test_a_json_list_in_the_environment(tmp_path: Path) -> None:
    environ = {"SECRETS_COOKIE": '["first-secret-of-16+", "second-secret-of-16+"]'}
    assert load(tmp_path, environ=environ).secrets.cookie == ["first-secret-of-16+", "second-secret-of-16+"]


def test_unknown_environment_variables_are_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSN", "postgres://from-os-environ/ignored")  # only the mapping given is read
    settings = load(tmp_path, environ={"PATH": "/bin", "SERVE_PUBLIC_PORTT": "1", "WARDEN_THING": "x", "HOME": "/"})
    assert settings.dsn == "memory"
    assert settings.serve.public.port == 4433


def test_an_unparsable_environment_value_fails_naming_the_key(tmp_path: Path) -> None:
    message = config_error(tmp_path, {}, {"SERVE_PUBLIC_PORT": "abc"})
    assert message == "config: serve.public.port: 'abc' is not of type 'integer'"


# --- secrets ------------------------------------------------------------------------------------------


def test_env_and_file_secrets(tmp_path: Path) -> None:
    (tmp_path / "cookie.txt").write_text("cookie-secret-from-a-file\n")
    absolute = tmp_path / "token.txt"
    absolute.write_text("an-internal-token-from-a-file")
    settings = load(
        tmp_path,
        {
            "dsn": "env://DATABASE_URL",
            "secrets": {"cookie": ["file://cookie.txt"]},
            "services": {"internal_token": f"file://{absolute}"},
        },
        {"DATABASE_URL": "postgres://u:p@db/warden"},
    )
    assert settings.dsn == "postgres://u:p@db/warden"
    assert settings.secrets.cookie == ["cookie-secret-from-a-file"]
    assert settings.internal_token == "an-internal-token-from-a-file"


def test_a_missing_secret_fails_naming_the_key(tmp_path: Path) -> None:
    assert config_error(tmp_path, {"dsn": "env://NOT_SET"}) == "config: dsn: environment variable 'NOT_SET' is not set"
    message = config_error(tmp_path, {"secrets": {"cipher": ["file:///nonexistent/cipher"]}})
    assert message.startswith("config: secrets.cipher[0]: cannot read secret file")


# --- several files ----------------------------------------------------------------------------------


def test_config_files_merge_in_order(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    first = write(tmp_path / "base", "kratos.yml", deep_merge(MINIMAL, {"serve": {"public": {"port": 1111}}}))
    second = write(
        tmp_path,
        "override.yml",
        {"serve": {"admin": {"port": 2222}}, "selfservice": {"allowed_return_urls": ["http://b/"]}, "dsn": "memory"},
    )
    settings = load_settings([first, second], {})
    assert (settings.serve.public.port, settings.serve.admin.port) == (1111, 2222)
    assert settings.get("selfservice.default_browser_return_url") == "http://127.0.0.1:4455/"
    assert settings.get("selfservice.allowed_return_urls") == ["http://b/"]
    assert settings.config_dir == (tmp_path / "base").resolve()


# --- identity schema locations ----------------------------------------------------------------------


def test_a_bad_identity_schema_path_fails_naming_the_key(tmp_path: Path) -> None:
    schemas = [{"id": "default", "url": "file:///nowhere/identity.schema.json"}]
    message = config_error(tmp_path, {"identity": {"schemas": schemas}})
    assert message.startswith("config: identity.schemas[0].url: ")


def test_an_identity_schema_that_is_not_json_fails(tmp_path: Path) -> None:
    (tmp_path / "identity.schema.json").write_text("not json")
    schemas = [{"id": "default", "url": "file://identity.schema.json"}]
    assert config_error(tmp_path, {"identity": {"schemas": schemas}}).startswith("config: identity.schemas[0].url: ")


def test_the_default_schema_id_must_exist(tmp_path: Path) -> None:
    message = config_error(tmp_path, {"identity": {"default_schema_id": "customer"}})
    assert message.startswith("config: identity.default_schema_id: ")


def test_resolve_schema_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir = tmp_path / "conf"
    config_dir.mkdir()
    (config_dir / "identity.schema.json").write_text('{"type": "object"}')
    monkeypatch.chdir(tmp_path)
    found = str((config_dir / "identity.schema.json").resolve())
    assert resolve_schema_location("file://conf/identity.schema.json", config_dir) == found  # from the cwd
    assert resolve_schema_location("file://./identity.schema.json", config_dir) == found  # from config_dir
    assert resolve_schema_location("file:///etc/config/kratos/identity.schema.json", config_dir) == found  # basename
    assert resolve_schema_location(SCHEMA_B64, config_dir) == '{"type": "object"}'
    assert resolve_schema_location("https://example.com/s.json", config_dir) == "https://example.com/s.json"
    assert read_schema_document(SCHEMA_B64, config_dir) == {"type": "object"}
    assert read_schema_document("https://example.com/s.json", config_dir) is None


# --- the Settings object ----------------------------------------------------------------------------


def test_settings_defaults_and_helpers(tmp_path: Path) -> None:
    settings = load(tmp_path, {"services": {"courier": {"internal_url": "http://courier:4400/"}}})
    assert settings.get("selfservice.flows.login.lifespan") == "1h"  # Kratos's schema default
    assert settings.get("no.such.key", "fallback") == "fallback"
    assert (settings.bus.url, settings.bus.exchange, settings.bus.max_deliveries) == ("memory", "warden", 5)
    assert (settings.cache.url, settings.cache.prefix) == ("memory", "warden:")
    assert settings.internal_token == ""
    assert settings.internal_url("courier") == "http://courier:4400/"
    assert settings.internal_url("identity") is None
    with pytest.raises(pydantic.ValidationError):
        settings.dsn = "other"  # type: ignore[misc]


def test_settings_can_be_built_directly_for_tests() -> None:
    settings = Settings(dsn="memory")
    assert settings.serve.public.port == 4433 and settings.serve.admin.base_url == "http://127.0.0.1:4434/"
    assert settings.dsn_for("identity") == "memory"


def test_courier_mail_dir_is_a_warden_key() -> None:
    from shared.config import load_settings

    settings = load_settings([], {"SERVICES_COURIER_MAIL_DIR": "/var/lib/warden/mail"}, dev=True)
    assert settings.get("services.courier.mail_dir") == "/var/lib/warden/mail"


# --- a config file adds to the defaults -----------------------------------------------------------


def test_a_partial_config_gets_the_builtin_ui_and_schema(tmp_path: Path) -> None:
    config = tmp_path / "kratos.yml"
    config.write_text("dsn: memory\nselfservice:\n  flows:\n    login:\n      ui_url: https://app.example.com/login\n")
    settings = load_settings([config], {"SERVE_PUBLIC_BASE_URL": "https://id.example.com/"})
    assert settings.get("selfservice.flows.login.ui_url") == "https://app.example.com/login", "the file wins"
    assert settings.get("selfservice.flows.registration.ui_url") == "https://id.example.com/ui/registration"
    assert settings.get("selfservice.flows.recovery.enabled") is False, "Kratos's own defaults are kept"
    assert settings.get("selfservice.default_browser_return_url") == "https://id.example.com/ui/welcome"
    assert settings.resolve_schema_location(settings.get("identity.schemas.0.url")) == str(
        DEFAULT_IDENTITY_SCHEMA.resolve()
    )


def test_a_partial_config_in_dev_mode_runs_on_the_development_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "totp.yml"
    config.write_text("selfservice:\n  methods:\n    totp:\n      enabled: true\n")
    settings = load_settings([config], {}, dev=True)
    assert settings.get("dsn") == f"sqlite://{(tmp_path / 'warden.sqlite').resolve()}?_fk=true"
    assert settings.get("selfservice.methods.totp.enabled") is True
    assert settings.get("selfservice.flows.registration.ui_url") == "http://127.0.0.1:4433/ui/registration"
    assert settings.get("selfservice.flows.recovery.enabled") is False, "Kratos's defaults for what the file omits"
    named = tmp_path / "named.yml"
    named.write_text("dsn: memory\n")
    assert load_settings([named], {}, dev=True).get("dsn") == "memory", "the file's dsn wins"


def test_the_deploy_config_uses_the_builtin_ui(tmp_path: Path) -> None:
    deploy = Path(__file__).parents[2] / "deploy" / "kratos.yml"
    (tmp_path / "kratos.yml").write_text(deploy.read_text().replace("file:///etc/warden/", f"file://{tmp_path}/"))
    (tmp_path / "identity.schema.json").write_text((deploy.parent / "identity.schema.json").read_text())
    settings = load_settings([tmp_path / "kratos.yml"], {"DSN": "memory"})
    for page in ("login", "registration", "recovery", "verification", "settings", "error"):
        assert settings.get(f"selfservice.flows.{page}.ui_url") == f"http://127.0.0.1:4433/ui/{page}"
    assert settings.serve.admin.host == "0.0.0.0", "the distributed setup's admin port serves its network"


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"free_failures": 0}, "free_failures: 0 is less than the minimum of 1"),
        ({"max_block": "soon"}, "max_block: 'soon' does not match"),
        ({"lockout": True}, "password_checks.lockout: unknown key"),
        ({"lockout_after": 0}, "lockout_after: 0 is less than the minimum of 1"),
    ],
)
def test_a_bad_password_throttle_setting_is_refused_with_its_key(
    tmp_path: Path, given: dict[str, Any], named: str
) -> None:
    assert named in config_error(tmp_path, {"rate_limits": {"password_checks": given}})


def test_the_password_throttle_takes_its_numbers_from_the_config(tmp_path: Path) -> None:
    assert ThrottlePolicy.from_settings(load(tmp_path)) == ThrottlePolicy()  # the defaults, 5 and 15 min …
    given = {"free_failures": 3, "max_block": "1h", "ceiling": 50, "ceiling_delay": "2s", "forget_after": "24h"}
    policy = ThrottlePolicy.from_settings(
        load(tmp_path, {"rate_limits": {"password_checks": {**given, "lockout_after": 60}}})
    )
    assert policy == ThrottlePolicy(3, 3600.0, 50, 2.0, 86400.0, 60)
    assert ThrottlePolicy().lockout_after == 100, "NIST SP 800-63B's cap by default"


def test_credentials_outside_the_secrets_section_are_not_echoed(tmp_path: Path) -> None:
    """A start-up error goes to the process's log: an OIDC client secret, an HTTP call's password or
    API key must not be in it, whether the error is about the value or the section holding it."""
    basic_auth = {"type": "basic_auth", "config": {"user": "u", "password": "TOPSECRET-BASIC", "extra": 1}}
    section = config_error(
        tmp_path, {"courier": {"http": {"request_config": {"url": "https://x.example/", "auth": basic_auth}}}}
    )
    assert section.startswith("config: courier.http.request_config.auth: ") and "TOPSECRET" not in section
    api_key = {"type": "api_key", "config": {"name": "X-Key", "value": 12345678, "in": "header"}}
    hook = {"hook": "web_hook", "config": {"url": "https://x.example/", "method": "POST", "auth": api_key}}
    value = config_error(tmp_path, {"selfservice": {"flows": {"registration": {"after": {"hooks": [hook]}}}}})
    assert (
        value.startswith("config: selfservice.flows.registration.after.hooks[0].config.auth")
        and "12345678" not in value
    )


def test_a_short_internal_token_is_refused(tmp_path: Path) -> None:
    """It guards the internal API, which issues sessions for any identity, and the gRPC port, which
    reads identities: a guessable one is refused, as Kratos refuses secrets under 16 characters."""
    message = config_error(tmp_path, {"services": {"internal_token": "hunter2-token"}})
    assert message == "config: services.internal_token: shorter than 16 characters"
    assert load(tmp_path, {"services": {"internal_token": ""}}).internal_token == ""
    assert load(tmp_path, {"services": {"internal_token": "x" * 16}}).internal_token == "x" * 16


@pytest.mark.parametrize("timeout", ["0s", "24h", "48h"])
def test_an_inactivity_timeout_of_nothing_or_past_the_lifespan_is_refused(tmp_path: Path, timeout: str) -> None:
    """0s would end every session at its first use; one at or past the lifespan would never act."""
    settings = load(tmp_path, {"session": {"lifespan": "24h", "inactivity_timeout": timeout}})
    with pytest.raises(ConfigError, match="session.inactivity_timeout"):
        SessionConfig.from_settings(settings)


def test_an_inactivity_timeout_is_read(tmp_path: Path) -> None:
    assert SessionConfig.from_settings(load(tmp_path)).inactivity_timeout is None, "off, as in Kratos"
    settings = load(tmp_path, {"session": {"inactivity_timeout": "15m"}})
    assert SessionConfig.from_settings(settings).inactivity_timeout == timedelta(minutes=15)
