"""A real SMTP server for tests (aiosmtpd, on a free port of 127.0.0.1, in its own thread) that
keeps every message it accepts. Switches: `down()` / `up()` (down closes the port and drops open
connections, so senders see a refused connection), `reject(addr)` (answers 550 to RCPT TO for
that recipient), optional login (`credentials=(user, password)`) and TLS (`tls="starttls"` or
`"implicit"`, with a self-signed certificate).

    from tests.smtp import SmtpServer, smtp_server  # the fixture: a started server, stopped after

    def test_x(smtp_server: SmtpServer) -> None:
        settings = settings_for(tmp_path, dsn, {"courier": {"smtp": {"connection_uri": smtp_server.uri}}})
        ...
        [mail] = smtp_server.wait_for(1)
        assert mail.to == "alice@example.com" and "123456" in mail.text
"""

from __future__ import annotations

import asyncio
import datetime
import email
import ipaddress
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import free_port


@dataclass(frozen=True)
class Received:
    mail_from: str
    recipients: list[str]
    message: EmailMessage
    helo: str = ""  # the name the client gave in HELO/EHLO (`courier.smtp.local_name`)

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def to(self) -> str:
        return str(self.message["To"])

    @property
    def sender(self) -> str:
        return str(self.message["From"])

    @property
    def text(self) -> str:
        """The plain-text body, with SMTP's CRLF line ends turned back into newlines."""
        return self._part("plain")

    @property
    def html(self) -> str:
        return self._part("html")

    def _part(self, subtype: str) -> str:
        part = self.message.get_body((subtype,))
        return part.get_content().replace("\r\n", "\n") if part is not None else ""


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def handle_RCPT(self, _smtp: Any, _session: Any, envelope: Any, address: str, _options: Any) -> str:
        if address.lower() in self._server.rejected:
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _smtp: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self._server._keep(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                message,  # type: ignore[arg-type]
                session.host_name or "",
            )
        )
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(
        self, *, credentials: tuple[str, str] | None = None, tls: str | None = None, name: str | None = None
    ) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.credentials = credentials
        self.tls = tls
        self.rejected: set[str] = set()
        self.logins: list[str] = []
        self._received: list[Received] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        # `name`: a certificate for that DNS name rather than for 127.0.0.1 (`?server_name=`);
        # `certificate_file` is its PEM, for a client to trust.
        self._certificate, self.certificate_file = _self_signed(name) if tls else (None, None)

    @property
    def uri(self) -> str:
        """A `courier.smtp.connection_uri` for this server."""
        login = f"{self.credentials[0]}:{self.credentials[1]}@" if self.credentials else ""
        if self.tls == "implicit":
            return f"smtps://{login}{self.host}:{self.port}/?skip_ssl_verify=true"
        if self.tls == "starttls":
            return f"smtp://{login}{self.host}:{self.port}/?skip_ssl_verify=true"
        return f"smtp://{login}{self.host}:{self.port}/?disable_starttls=true"

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def message_ids(self) -> list[str]:
        return [str(m.message["Message-ID"]) for m in self.messages]

    def to(self, recipient: str) -> list[Received]:
        return [m for m in self.messages if recipient in m.recipients]

    def up(self) -> None:
        if self._controller is not None:
            return
        kwargs: dict[str, Any] = {}
        if self.credentials:
            # Offered, not required: aiosmtpd warns about requiring AUTH without TLS, and the courier logs
            # in whenever its connection URI has credentials (`logins` shows it did).
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        if self.tls == "starttls":
            kwargs.update(tls_context=self._certificate, require_starttls=True)
        if self.tls == "implicit":
            kwargs.update(ssl_context=self._certificate)
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, **kwargs)
        self._controller.start()

    def down(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def reject(self, *recipients: str) -> None:
        self.rejected |= {r.lower() for r in recipients}

    def accept(self, *recipients: str) -> None:
        self.rejected -= {r.lower() for r in recipients}

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Blocks until at least `count` messages arrived (for tests that are not async)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.messages)} of {count} messages arrived within {timeout}s")
            time.sleep(0.02)
        return self.messages

    async def wait_for_async(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.messages)} of {count} messages arrived within {timeout}s")
            await asyncio.sleep(0.02)
        return self.messages

    def _keep(self, received: Received) -> None:
        with self._lock:
            self._received.append(received)

    def _authenticate(self, _smtp: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and self.credentials is not None
            and (data.login.decode(), data.password.decode()) == self.credentials
        )
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)


def serving() -> Iterator[SmtpServer]:
    """A started server, stopped afterwards (the body of the fixtures)."""
    server = SmtpServer()
    server.up()
    try:
        yield server
    finally:
        server.down()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    yield from serving()


def _self_signed(dns_name: str | None = None) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1 (or `dns_name`), and
    the certificate's file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name or "127.0.0.1")])
    alternative = x509.DNSName(dns_name) if dns_name else x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([alternative]), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = Path(tempfile.mkdtemp(prefix="warden-smtp-"))
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context, folder / "cert.pem"
