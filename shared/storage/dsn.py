"""Kratos DSNs to SQLAlchemy URLs.

Kratos accepts `memory`, `sqlite://path?_fk=true`, `postgres://…`, `postgresql://…` and
`cockroach://…`, with its own query parameters (`sslmode`, `max_conns`, …). asyncpg does not accept
those as keywords, so they are translated here, once, into engine options.

A SQLite DSN is read as Kratos reads it (pop's `urlParserSQLite3`): the path is everything up to the
first `?`, a `#` in it included, and the rest is the query (the driver's options, which sqlite3 has
no use for). Warden then decodes the path's escapes, as SQLAlchemy reads a URL: `%20` is a space,
`%3F` a `?` (which Kratos cannot have in a path at all), `%25` a `%`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from shared.errors import ConfigError

_POSTGRES_SCHEMES = {"postgres", "postgresql", "cockroach", "cockroachdb", "postgresql+asyncpg"}
_SQLITE_SCHEMES = {"sqlite", "sqlite3", "sqlite+aiosqlite"}
# Kratos/pop parameters that are about the pool or the driver it used, not about asyncpg.
_IGNORED_PARAMS = {"max_idle_conns", "max_conn_lifetime", "max_conn_idle_time", "_fk", "mode", "_journal_mode"}


@dataclass(frozen=True)
class DatabaseUrl:
    url: str
    dialect: str  # "postgresql" or "sqlite"
    in_memory: bool = False
    engine_options: dict[str, Any] = field(default_factory=dict)
    connect_args: dict[str, Any] = field(default_factory=dict)
    cockroach: bool = False  # a cockroach:// DSN: PostgreSQL's protocol, not all of its settings


def parse_dsn(dsn: str) -> DatabaseUrl:
    dsn = dsn.strip()
    if dsn == "memory" or ":memory:" in dsn:
        return DatabaseUrl("sqlite+aiosqlite://", "sqlite", in_memory=True)
    scheme, _, rest = dsn.partition(":") if ":" in dsn else ("", "", dsn)
    scheme = scheme.lower()
    if scheme in _SQLITE_SCHEMES:
        # sqlite:///abs/path or sqlite://./relative/path; not urlsplit's: a `#` would end the path.
        path = rest.removeprefix("//").partition("?")[0]
        if not path:
            raise ConfigError(f"dsn: a sqlite DSN needs a file path: {_redact(dsn)}")
        return DatabaseUrl(f"sqlite+aiosqlite:///{path}", "sqlite")
    if scheme in _POSTGRES_SCHEMES:
        return _postgres(urlsplit(dsn))
    raise ConfigError(f"dsn: unsupported database scheme {scheme or '(none)'!r}; use memory, sqlite:// or postgres://")


def _postgres(parts: Any) -> DatabaseUrl:
    params = dict(parse_qsl(parts.query))
    options: dict[str, Any] = {}
    connect_args: dict[str, Any] = {}
    if "max_conns" in params:
        options["pool_size"] = int(params.pop("max_conns"))
    sslmode = params.pop("sslmode", None)
    if sslmode and sslmode != "disable":
        connect_args["ssl"] = sslmode
    elif sslmode == "disable":
        connect_args["ssl"] = False
    for name in _IGNORED_PARAMS:
        params.pop(name, None)
    url = urlunsplit(("postgresql+asyncpg", parts.netloc, parts.path, urlencode(params), ""))
    cockroach = parts.scheme.lower().startswith("cockroach")
    return DatabaseUrl(url, "postgresql", engine_options=options, connect_args=connect_args, cockroach=cockroach)


def _redact(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return dsn
