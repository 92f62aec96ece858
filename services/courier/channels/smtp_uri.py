"""Kratos's `courier.smtp.connection_uri`: `smtps://` for implicit TLS, `smtp://` for StartTLS
(enforced unless `?disable_starttls=true`); TLS certificates are verified unless
`?skip_ssl_verify=true`, against `?server_name=` when given (a host whose certificate names another).
`user:password@` logs in."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from shared.errors import ConfigError

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    start_tls: bool
    verify_certificate: bool
    server_name: str | None  # the name TLS checks the certificate against, when not `host`

    def __repr__(self) -> str:  # never print the password
        return f"SmtpTarget({self.host}:{self.port}, tls={'implicit' if self.implicit_tls else self.start_tls})"


def parse_connection_uri(uri: str) -> SmtpTarget:
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"config: courier.smtp.connection_uri: not a valid URI ({exc})") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ConfigError("config: courier.smtp.connection_uri: use smtp://host:port/ or smtps://host:port/")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    implicit = parts.scheme == "smtps"
    return SmtpTarget(
        host=parts.hostname,
        port=port or DEFAULT_PORTS[parts.scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        implicit_tls=implicit,
        start_tls=not implicit and not _flag(query.get("disable_starttls")),
        verify_certificate=not _flag(query.get("skip_ssl_verify")),
        server_name=query.get("server_name") or None,
    )


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "yes")
