"""Which channel delivers which kind of message, from the config:

- email: `courier.delivery_strategy: http` -> `courier.http.request_config`; else SMTP when
  `courier.smtp.connection_uri` is set; else the log-and-folder sink;
- sms: the `courier.channels[]` entry with `id: sms` (`type: http`); else the sink.

Kratos's older `courier.sms.*` keys are gone from its config schema, so a config with them fails
validation before it gets here."""

from __future__ import annotations

import logging
from typing import Any

from services.courier.channels.http import HttpChannel
from services.courier.channels.ports import Channel
from services.courier.channels.sink import FolderSink
from services.courier.channels.smtp import SmtpChannel
from services.courier.channels.smtp_uri import parse_connection_uri
from services.courier.config import DEFAULT_HTTP_BODY, CourierConfig, RequestConfig
from services.courier.domain import EMAIL, SMS
from shared.config.sources import Fetch, read_source
from shared.errors import ConfigError
from shared.http.egress import Egress
from shared.jsonnet import JsonnetBody
from shared.jsonnet_sandbox import JsonnetSandbox

log = logging.getLogger(__name__)


async def build_channels(
    config: CourierConfig, settings: Any, egress: Egress, fetch: Fetch, sandbox: JsonnetSandbox
) -> dict[str, Channel]:
    """`sandbox` evaluates the HTTP channels' bodies (the service's, closed by it)."""
    sink = FolderSink(config.mail_dir, config.sender, leak_sensitive_values=config.leak_sensitive_values)
    channels: dict[str, Channel] = {}
    if config.email_http is not None:
        channels[EMAIL] = await _http(
            config.email_http, "courier.http.request_config.body", config, settings, egress, fetch, sandbox
        )
    elif config.smtp_uri:
        channels[EMAIL] = SmtpChannel(
            parse_connection_uri(config.smtp_uri),
            config.sender,
            timeout=config.send_timeout,
            client_cert=config.client_cert_path,
            client_key=config.client_key_path,
            connections=config.pull_count,  # one session per send of a batch, which go side by side
            public_only=config.smtp_disallow_private_ip_ranges,
        )
    if config.sms_http is not None:
        channels[SMS] = await _http(
            config.sms_http, "courier.channels.request_config.body", config, settings, egress, fetch, sandbox
        )
    for channel in (EMAIL, SMS):
        if channel not in channels:
            channels[channel] = sink
            if not config.dev:  # a production courier that delivers nothing should say so loudly
                log.warning(
                    "courier: no %s delivery is configured; %s messages are written to %s and not sent",
                    channel,
                    channel,
                    config.mail_dir,
                )
    return channels


async def _http(
    request: RequestConfig,
    key: str,
    config: CourierConfig,
    settings: Any,
    egress: Egress,
    fetch: Fetch,
    sandbox: JsonnetSandbox,
) -> HttpChannel:
    source = await read_source(request.body, settings, fetch, key) if request.body else DEFAULT_HTTP_BODY
    try:
        body = JsonnetBody(source, key)
    except RuntimeError as exc:  # go-jsonnet's error for a program that does not parse
        raise ConfigError(f"config: {key}: the Jsonnet body does not evaluate: {exc}") from None
    return HttpChannel(request, body, egress, sandbox, timeout=config.send_timeout)
