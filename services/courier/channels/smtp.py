"""Email over SMTP with aiosmtplib: one connection per message, so a message one server refuses
(a rejected recipient) never spoils the session another message is using."""

from __future__ import annotations

import ssl

import aiosmtplib
from opentelemetry.trace import SpanKind

from services.courier.channels.mime import build_email
from services.courier.channels.smtp_uri import SmtpTarget
from services.courier.config import Sender
from services.courier.domain import Message
from shared.tracing.spans import tracer


class SmtpChannel:
    def __init__(
        self, target: SmtpTarget, sender: Sender, *, timeout: float, client_cert: str = "", client_key: str = ""
    ) -> None:
        self._target = target
        self._sender = sender
        self._timeout = timeout
        self._client_cert = client_cert or None
        self._client_key = client_key or None
        self._tls = _tls_context(target, self._client_cert, self._client_key)

    async def send(self, message: Message) -> None:
        t = self._target
        client = aiosmtplib.SMTP(
            hostname=t.host,
            port=t.port,
            username=t.username,
            password=t.password,
            local_hostname=self._sender.local_name,
            timeout=self._timeout,
            use_tls=t.implicit_tls,
            # True: StartTLS or fail (Kratos's default for smtp://); False: cleartext, as asked.
            start_tls=t.start_tls if not t.implicit_tls else None,
            tls_context=self._tls,
        )
        # aiosmtplib has no OpenTelemetry instrumentation: the span is ours (no address, no body in it).
        with tracer("warden.courier.smtp").start_as_current_span(
            "smtp send",
            kind=SpanKind.CLIENT,
            attributes={"network.protocol.name": "smtp", "server.address": t.host, "server.port": t.port},
        ):
            async with client:
                await client.send_message(
                    build_email(message, self._sender), sender=self._sender.from_address, recipients=[message.recipient]
                )


def _tls_context(target: SmtpTarget, client_cert: str | None, client_key: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not target.verify_certificate:  # `?skip_ssl_verify=true`: self-signed development servers
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if client_cert:
        context.load_cert_chain(client_cert, client_key)
    return context
