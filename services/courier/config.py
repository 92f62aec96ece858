"""The courier settings Warden reads from `kratos.yml` (`courier.*`, `clients.smtp.*`,
`log.leak_sensitive_values`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from shared.errors import ConfigError
from shared.units import parse_duration

# Kratos's default body for HTTP deliveries (the schema's default for `request_config.body`).
DEFAULT_HTTP_BODY = """function(ctx) {
  recipient: ctx.recipient,
  template_type: ctx.template_type,
  to: if "template_data" in ctx && "to" in ctx.template_data then ctx.template_data.to else null,
  recovery_code: if "template_data" in ctx && "recovery_code" in ctx.template_data then ctx.template_data.recovery_code else null,
  recovery_url: if "template_data" in ctx && "recovery_url" in ctx.template_data then ctx.template_data.recovery_url else null,
  verification_url: if "template_data" in ctx && "verification_url" in ctx.template_data then ctx.template_data.verification_url else null,
  verification_code: if "template_data" in ctx && "verification_code" in ctx.template_data then ctx.template_data.verification_code else null,
  subject: ctx.subject,
  body: ctx.body
}
"""
# A send that takes longer than this has failed; the claim lease must outlast it by far, or a
# slow send could be taken over and sent twice. The lease only matters when a courier dies
# mid-send: one that stops cleanly hands its messages back.
SEND_TIMEOUT_SECONDS = 30.0
CLAIM_LEASE_SECONDS = 120.0
MAX_BACKOFF_SECONDS = 300.0
# Kratos keeps messages forever. Their bodies hold codes and links that expired long ago, and their
# recipients are personal data: `warden cleanup` deletes sent and abandoned ones after this, and
# web hook deliveries delivered or abandoned as long ago.
RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class Sender:
    from_address: str
    from_name: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    local_name: str = "localhost"


@dataclass(frozen=True)
class RequestConfig:
    url: str
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    auth: dict[str, Any] | None = None
    body: str | None = None  # a Jsonnet URL; None: Kratos's default body

    @classmethod
    def from_config(cls, raw: Any, key: str) -> RequestConfig:
        if not isinstance(raw, dict) or not raw.get("url"):
            raise ConfigError(f"config: {key}.url: the HTTP delivery needs a URL")
        return cls(
            raw["url"],
            str(raw.get("method") or "POST").upper(),
            dict(raw.get("headers") or {}),
            raw.get("auth"),
            raw.get("body"),
        )


@dataclass(frozen=True)
class CourierConfig:
    sender: Sender
    smtp_uri: str | None = None
    client_cert_path: str = ""
    client_key_path: str = ""
    smtp_disallow_private_ip_ranges: bool = False  # `clients.smtp.disallow_private_ip_ranges`
    email_http: RequestConfig | None = None
    sms_http: RequestConfig | None = None
    message_retries: int = 5
    pull_count: int = 10
    pull_wait: float = 1.0  # also the first retry's delay, which doubles with each failure
    mail_dir: Path = Path(".warden/mail")
    dev: bool = False
    leak_sensitive_values: bool = False
    send_timeout: float = SEND_TIMEOUT_SECONDS
    lease: float = CLAIM_LEASE_SECONDS
    max_backoff: float = MAX_BACKOFF_SECONDS

    @property
    def retries(self) -> int:
        return self.message_retries

    def backoff(self, send_count: int) -> float:
        """Seconds before the next try of a message that has failed `send_count` times."""
        return float(min(self.pull_wait * 2 ** max(0, send_count - 1), self.max_backoff))

    @classmethod
    def from_settings(cls, settings: Any) -> CourierConfig:
        get = settings.get
        email_http = None
        if get("courier.delivery_strategy", "smtp") == "http":
            email_http = RequestConfig.from_config(get("courier.http.request_config"), "courier.http.request_config")
        channels = {c.get("id"): (i, c) for i, c in enumerate(get("courier.channels") or []) if isinstance(c, dict)}
        sms_http = None
        if "sms" in channels:
            index, channel = channels["sms"]
            sms_http = RequestConfig.from_config(
                channel.get("request_config"), f"courier.channels[{index}].request_config"
            )
        mail_dir = Path(get("services.courier.mail_dir") or ".warden/mail")
        return cls(
            sender=Sender(
                get("courier.smtp.from_address") or "no-reply@ory.kratos.sh",
                get("courier.smtp.from_name"),
                dict(get("courier.smtp.headers") or {}),
                get("courier.smtp.local_name") or "localhost",
            ),
            smtp_uri=get("courier.smtp.connection_uri") or None,
            client_cert_path=get("courier.smtp.client_cert_path") or "",
            client_key_path=get("courier.smtp.client_key_path") or "",
            smtp_disallow_private_ip_ranges=bool(get("clients.smtp.disallow_private_ip_ranges", False)),
            email_http=email_http,
            sms_http=sms_http,
            message_retries=int(get("courier.message_retries", 5)),
            pull_count=max(1, int(get("courier.worker.pull_count", 10))),
            pull_wait=max(0.01, parse_duration(get("courier.worker.pull_wait", "1s")).total_seconds()),
            mail_dir=mail_dir if mail_dir.is_absolute() else Path.cwd() / mail_dir,
            dev=settings.dev,
            leak_sensitive_values=settings.log.leak_sensitive_values,
        )
