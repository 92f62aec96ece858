"""Email over SMTP with aiosmtplib, over a few sessions kept open and reused.

Opening a session (TCP, greeting, EHLO, STARTTLS, AUTH) costs more round trips than sending a
message on it, for the courier and for the server alike, so up to `connections` sessions stay open
between messages and each carries one message at a time. A session is reused only after a message
went through cleanly: after any error (a refused recipient, a timeout, a dropped connection) it is
closed, so one message's failure never spoils the session the next one uses. A session idle for
longer than `IDLE_SECONDS`, or one the server has closed, is dropped instead of being reused:
servers hang up on idle clients, and a message must not fail on a session that is already gone.

`clients.smtp.disallow_private_ip_ranges: true` keeps the courier off private, loopback, link-local
and other non-public addresses, by the rules outgoing HTTP follows (`shared.http.egress`). The host's
addresses are resolved here and the courier connects to a public one itself, so the address checked
is the address connected to (a name that resolves to another address a moment later cannot slip
through). A refused server fails the send like one that is down: the message is retried, then
abandoned, and each attempt's log line and dispatch error say why."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from typing import Any

import aiosmtplib
from opentelemetry.trace import SpanKind

from services.courier.channels.smtp_uri import SmtpTarget
from services.courier.channels.wire import needs_smtputf8, wire_email
from services.courier.config import Sender
from services.courier.domain import Message
from shared.errors import ConfigError
from shared.http.egress import PrivateAddressRefused, PublicOnlyResolver
from shared.tracing.spans import tracer

# Below the idle timeouts servers commonly apply (Postfix's smtpd_timeout is 300 s, Exchange's 10 min).
IDLE_SECONDS = 30.0
DEFAULT_CONNECTIONS = 10


class SmtpChannel:
    def __init__(
        self,
        target: SmtpTarget,
        sender: Sender,
        *,
        timeout: float,
        client_cert: str = "",
        client_key: str = "",
        connections: int = DEFAULT_CONNECTIONS,
        public_only: bool = False,  # `clients.smtp.disallow_private_ip_ranges`
    ) -> None:
        self._target = target
        self._public_only = public_only
        self._sender = sender
        self._timeout = timeout
        self._tls = _tls_context(target, client_cert or None, client_key or None)
        self._slots = asyncio.Semaphore(max(1, connections))
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []  # last used last: the warmest is reused first

    async def send(self, message: Message) -> None:
        data = wire_email(message, self._sender)
        options = ["SMTPUTF8"] if needs_smtputf8(message, self._sender) else None
        t = self._target
        # aiosmtplib has no OpenTelemetry instrumentation: the span is ours (no address, no body in it).
        with tracer("warden.courier.smtp").start_as_current_span(
            "smtp send",
            kind=SpanKind.CLIENT,
            attributes={"network.protocol.name": "smtp", "server.address": t.host, "server.port": t.port},
        ):
            async with self._slots:
                client = await self._session()
                try:
                    await client.sendmail(self._sender.from_address, [message.recipient], data, mail_options=options)
                except BaseException:
                    _drop(client)
                    raise
                self._idle.append((client, time.monotonic()))

    async def close(self) -> None:
        """Says goodbye on every idle session (the courier is stopping)."""
        idle, self._idle = self._idle, []
        for client, _ in idle:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.quit(), 1.0)
            _drop(client)

    async def _session(self) -> aiosmtplib.SMTP:
        while self._idle:
            client, last_used = self._idle.pop()
            if client.is_connected and time.monotonic() - last_used < IDLE_SECONDS:
                return client
            _drop(client)
        t = self._target
        # `?server_name=`: TLS checks the certificate against that name, not the host connected to.
        # aiosmtplib checks against `hostname`, so it gets the name and a socket already connected;
        # so it does when only a public address will do, which is checked as it is connected to.
        own_socket = bool(t.server_name) or self._public_only
        sock = await _connect(t.host, t.port, self._timeout, public_only=self._public_only) if own_socket else None
        client = aiosmtplib.SMTP(
            hostname=t.server_name or t.host,
            port=None if sock else t.port,
            sock=sock,
            username=t.username,
            password=t.password,
            local_hostname=self._sender.local_name,
            timeout=self._timeout,
            use_tls=t.implicit_tls,
            # True: StartTLS or fail (Kratos's default for smtp://); False: cleartext, as asked.
            start_tls=t.start_tls if not t.implicit_tls else None,
            tls_context=self._tls,
        )
        try:
            await client.connect()
        except BaseException:
            _drop(client)  # it may have got as far as a refused STARTTLS or login
            if sock is not None:
                sock.close()  # a no-op when the transport has closed it already
            raise
        return client


async def _connect(host: str, port: int, timeout: float, *, public_only: bool = False) -> socket.socket:
    """A TCP connection to the first of `host`'s addresses (its public ones, if `public_only`) that answers."""
    loop = asyncio.get_running_loop()
    failure: OSError = OSError(f"{host} has no address")
    for family, proto, address in await _addresses(host, port, public_only):
        sock = socket.socket(family, socket.SOCK_STREAM, proto)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, address), timeout)
            return sock
        except (OSError, TimeoutError) as exc:
            sock.close()
            failure = exc if isinstance(exc, OSError) else OSError(f"connecting to {host}:{port} timed out")
    raise aiosmtplib.SMTPConnectError(f"Error connecting to {host} on port {port}: {failure}")


async def _addresses(host: str, port: int, public_only: bool) -> list[tuple[int, int, tuple[Any, ...]]]:
    """`(family, proto, address)` for each of `host`'s addresses; only the public ones if `public_only`,
    which raises PrivateAddressRefused when there is none (a literal private IP included)."""
    if not public_only:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [(family, proto, address) for family, _, proto, _, address in found]
    try:
        public = await PublicOnlyResolver().resolve(host, port, socket.AF_UNSPEC)
    except PrivateAddressRefused:
        raise PrivateAddressRefused(
            f"the SMTP server {host}:{port} has no public address, and "
            "clients.smtp.disallow_private_ip_ranges forbids connecting to private ones"
        ) from None
    return [(r["family"], r["proto"], (r["host"], r["port"])) for r in public]


def _drop(client: aiosmtplib.SMTP) -> None:
    """Closes without QUIT: the session is broken, or not worth a round trip."""
    if client.is_connected:
        client.close()


def _tls_context(target: SmtpTarget, client_cert: str | None, client_key: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not target.verify_certificate:  # `?skip_ssl_verify=true`: self-signed development servers
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if client_key and not client_cert:
        raise ConfigError("config: courier.smtp.client_key_path: needs courier.smtp.client_cert_path")
    if client_cert:
        try:
            context.load_cert_chain(client_cert, client_key)
        except (OSError, ssl.SSLError) as exc:  # at start-up, with the keys to fix, not a traceback
            raise ConfigError(
                f"config: courier.smtp.client_cert_path / client_key_path: cannot load the client certificate ({exc})"
            ) from None
    return context
