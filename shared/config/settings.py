"""The validated config as a frozen object: typed attributes for what every process needs, and `raw`
(plus `get`) for the rest, which each feature reads itself."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.config.locations import resolve_schema_location
from shared.config.schema import schema_default
from shared.config.tree import MISSING, get_path

PUBLIC_PORT = 4433
ADMIN_PORT = 4434
SERVICES = ("identity", "selfservice", "session", "courier")
# Warden hashes with argon2 unless `hashers.algorithm` says otherwise (DESIGN §8, and Kratos's own
# fallback in Go), where Kratos's config schema says bcrypt: read through `Settings.hasher_algorithm`,
# never `get`, which would answer the schema's default.
DEFAULT_HASHER = "argon2"


def default_base_url(port: Any) -> str:
    return f"http://127.0.0.1:{port}/"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Endpoint(_Frozen):
    host: str = ""  # "" = every interface
    port: int
    base_url: str


def _endpoint(port: int) -> Endpoint:
    return Endpoint(port=port, base_url=default_base_url(port))


class Serve(_Frozen):
    public: Endpoint = Field(default_factory=lambda: _endpoint(PUBLIC_PORT))
    admin: Endpoint = Field(default_factory=lambda: _endpoint(ADMIN_PORT))


class Log(_Frozen):
    level: str = "info"
    format: str = "json"
    leak_sensitive_values: bool = False
    redaction_text: str = ""  # "": Warden's `[redacted]` (shared.logging.REDACTED)


class Secrets(_Frozen):
    cookie: list[str] = []
    cipher: list[str] = []
    default: list[str] = []
    pagination: list[str] = []  # shared/page_tokens.py


class Bus(_Frozen):
    url: str = "memory"
    exchange: str = "warden"
    max_deliveries: int = 5


class Cache(_Frozen):
    url: str = "memory"
    prefix: str = "warden:"
    session_ttl: str = "5m"


class ServiceOverride(_Frozen):
    mail_dir: str | None = None  # courier only
    dsn: str | None = None
    internal_url: str | None = None


class Settings(_Frozen):
    """Build it with `load_settings`; tests may construct one directly (`Settings(dsn="memory")`).

    `raw` is the whole validated, merged tree. It is shared, not copied: do not mutate it.
    """

    raw: dict[str, Any] = {}
    dsn: str
    dev: bool = False
    config_dir: Path = Field(default_factory=Path.cwd)
    serve: Serve = Field(default_factory=Serve)
    log: Log = Field(default_factory=Log)
    secrets: Secrets = Field(default_factory=Secrets)
    bus: Bus = Field(default_factory=Bus)
    cache: Cache = Field(default_factory=Cache)
    internal_token: str = ""
    services: dict[str, ServiceOverride] = {}
    # Start-up warnings about keys the config sets that Warden does not act on (shared.config.ignored_keys).
    ignored_keys: tuple[str, ...] = ()

    def get(self, path: str, default: Any = None) -> Any:
        """The value at a dotted path ("selfservice.flows.login.lifespan"; digits index lists).

        Falls back to the Kratos/Warden schema's default for that key, then to `default`."""
        parts = tuple(path.split(".")) if path else ()
        value = get_path(self.raw, parts)
        if value is MISSING:
            value = schema_default(parts)
        return default if value is MISSING else value

    @property
    def hasher_algorithm(self) -> str:
        """The password hasher's algorithm: the identity service's, and the one whose limits (bcrypt's
        72 bytes) the password policy must know."""
        hashers = self.raw.get("hashers")
        return str((hashers if isinstance(hashers, dict) else {}).get("algorithm") or DEFAULT_HASHER)

    def dsn_for(self, service: str) -> str:
        """The service's own database when `services.<service>.dsn` is set, else the top-level dsn."""
        override = self.services.get(service)
        return override.dsn if override is not None and override.dsn else self.dsn

    def internal_url(self, service: str) -> str | None:
        """Where another process serves `service`; None means it runs in this process."""
        override = self.services.get(service)
        return override.internal_url if override is not None and override.internal_url else None

    def resolve_schema_location(self, url: str) -> str:
        """See `shared.config.locations.resolve_schema_location`."""
        return resolve_schema_location(url, self.config_dir)


def build_settings(raw: dict[str, Any], *, dev: bool, config_dir: Path, ignored_keys: Sequence[str] = ()) -> Settings:
    """Typed views of a tree that has already passed validation."""
    serve = raw.get("serve", {})
    services = raw.get("services", {})
    return Settings(
        raw=raw,
        dsn=raw.get("dsn", ""),
        dev=dev,
        config_dir=config_dir,
        serve=Serve(
            public=_endpoint_from(serve.get("public", {}), PUBLIC_PORT),
            admin=_endpoint_from(serve.get("admin", {}), ADMIN_PORT),
        ),
        log=Log(**_pick(raw.get("log", {}), Log)),
        secrets=Secrets(**_pick(raw.get("secrets", {}), Secrets)),
        bus=Bus(**_pick(raw.get("bus", {}), Bus)),
        cache=Cache(**_pick(raw.get("cache", {}), Cache)),
        internal_token=services.get("internal_token", ""),
        services={name: ServiceOverride(**services[name]) for name in SERVICES if name in services},
        ignored_keys=tuple(ignored_keys),
    )


def _endpoint_from(section: dict[str, Any], default_port: int) -> Endpoint:
    port = section.get("port", default_port)
    return Endpoint(host=section.get("host", ""), port=port, base_url=section.get("base_url") or default_base_url(port))


def _pick(section: dict[str, Any], model: type[_Frozen]) -> dict[str, Any]:
    return {key: value for key, value in section.items() if key in model.model_fields}
