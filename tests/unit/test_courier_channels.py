"""The courier's channels on their own: connection-URI parsing, the MIME message, SMTP against a
real server (plain, StartTLS, implicit TLS, login), the HTTP channel against a real HTTP server
(Jsonnet body, auth), and the dev folder."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import json
import random
import string
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import aiosmtplib
import pytest
from aiohttp import web

from services.courier.channels.http import HttpChannel
from services.courier.channels.mime import build_email
from services.courier.channels.sink import FolderSink
from services.courier.channels.smtp import SmtpChannel
from services.courier.channels.smtp_uri import parse_connection_uri
from services.courier.channels.wire import WIRE_POLICY, wire_email
from services.courier.config import DEFAULT_HTTP_BODY, RequestConfig, Sender
from services.courier.domain import Message
from shared.errors import ConfigError
from shared.http.egress import Egress, EgressPolicy, PrivateAddressRefused
from shared.jsonnet import JsonnetBody, JsonnetError
from shared.jsonnet_sandbox import JsonnetSandbox
from tests.smtp import SmtpServer

SENDER = Sender(
    "no-reply@warden.test", "Warden", {"X-SES-SOURCE-ARN": "arn:aws:ses:x", "Subject": "ignored"}, "courier.test"
)


def message(channel: str = "email", **changes: Any) -> Message:
    fields: dict[str, Any] = dict(
        id="0b6f6d7e-41c6-4a8e-9d33-7c8c0c3a1f00",
        channel=channel,
        recipient="alice@example.com" if channel == "email" else "+15550100",
        subject="Use code 123456 to log in" if channel == "email" else "",
        body="Your code: 123456\n",
        html_body="<p>Your code: <b>123456</b></p>" if channel == "email" else None,
        template_type="login_code_valid",
        template_data={"To": "alice@example.com", "LoginCode": "123456", "ExpiresInMinutes": 15},
    )
    fields.update(changes)
    return Message(**fields)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("smtp://mail.example:2525/?disable_starttls=true", ("mail.example", 2525, None, None, False, False, True)),
        ("smtp://user:p%40ss@mail.example/", ("mail.example", 25, "user", "p@ss", False, True, True)),
        (
            "smtps://test:test@mailslurper:1025/?skip_ssl_verify=true",
            ("mailslurper", 1025, "test", "test", True, False, False),
        ),
        ("smtps://mail.example/", ("mail.example", 465, None, None, True, False, True)),
        (
            "smtp://mail.example:587/?disable_starttls=false&skip_ssl_verify=false",
            ("mail.example", 587, None, None, False, True, True),
        ),
    ],
)
def test_connection_uris(uri: str, expected: tuple[Any, ...]) -> None:
    t = parse_connection_uri(uri)
    assert (t.host, t.port, t.username, t.password, t.implicit_tls, t.start_tls, t.verify_certificate) == expected
    assert "p@ss" not in repr(t) and "test:test" not in repr(t)


def test_server_name_is_parsed() -> None:
    assert parse_connection_uri("smtps://sub.mail.example:465/?server_name=mail.example").server_name == "mail.example"


@pytest.mark.parametrize("uri", ["http://mail.example/", "smtp:///nohost", "smtp://mail.example:notaport/"])
def test_bad_connection_uris_fail_with_the_key(uri: str) -> None:
    with pytest.raises(ConfigError, match="courier.smtp.connection_uri"):
        parse_connection_uri(uri)


def test_the_mime_message() -> None:
    email = build_email(message(), SENDER)
    assert email["From"] == "Warden <no-reply@warden.test>"
    assert email["To"] == "alice@example.com" and email["Subject"] == "Use code 123456 to log in"
    assert email["Message-ID"] == "<0b6f6d7e-41c6-4a8e-9d33-7c8c0c3a1f00@warden.test>"
    assert email["X-SES-SOURCE-ARN"] == "arn:aws:ses:x"
    assert email.get_all("Subject") == ["Use code 123456 to log in"]  # config headers cannot replace it
    assert email.get_body(("plain",)).get_content() == "Your code: 123456\n"
    assert "<b>123456</b>" in email.get_body(("html",)).get_content()


def test_the_email_on_the_wire_reads_as_the_mime_message() -> None:
    sent = message(subject="Ihr Code: 123456 – gültig", body="Grüße\n.\nCode 123456\n")
    wire = wire_email(sent, Sender("no-reply@warden.test", "Wärden, Inc.", {"X-Team": "Sécurité"}))
    assert wire.isascii() and b"\r\n" in wire and b"\n" not in wire.replace(b"\r\n", b"")
    received = email.message_from_bytes(wire, policy=email.policy.default)
    assert received["From"] == '"Wärden, Inc." <no-reply@warden.test>' and received["To"] == "alice@example.com"
    assert received["Subject"] == "Ihr Code: 123456 – gültig" and received["X-Team"] == "Sécurité"
    assert received["Message-ID"] == "<0b6f6d7e-41c6-4a8e-9d33-7c8c0c3a1f00@warden.test>"
    assert received.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Grüße\n.\nCode 123456\n"
    assert "<b>123456</b>" in received.get_body(("html",)).get_content()
    plain = email.message_from_bytes(wire_email(message(html_body=None), SENDER), policy=email.policy.default)
    assert plain.get_content_type() == "text/plain" and plain["X-SES-SOURCE-ARN"] == "arn:aws:ses:x"
    assert plain.get_all("Subject") == ["Use code 123456 to log in"]


def test_a_part_holding_lines_like_the_boundary_stays_whole() -> None:
    """The boundary is picked without checking the parts: one holding "==" cannot appear in them."""
    lookalikes = "--=_0123456789abcdef01234567==\n--=_0123456789abcdef01234567==--\n== =_ ==\n"
    wire = wire_email(message(body=lookalikes, html_body=f"<pre>{lookalikes}</pre>"), SENDER)
    received = email.message_from_bytes(wire, policy=email.policy.default)
    plain, html = received.iter_parts()
    assert plain.get_content().replace("\r\n", "\n") == lookalikes
    assert html.get_content().replace("\r\n", "\n") == f"<pre>{lookalikes}</pre>"


def test_headers_that_fit_their_line_are_written_as_compat32_folds_them() -> None:
    """The courier's policy skips compat32's `Header` for such headers: the bytes must not change."""
    stock = email.policy.compat32.clone(linesep="\r\n")
    ours = WIRE_POLICY
    pick = random.Random(17)
    alphabet = string.ascii_letters + string.digits + string.punctuation + " \t" * 8
    for _ in range(5000):
        name = pick.choice(["Subject", "To", "X-Team", "Content-Type", "Message-ID"])
        value = "".join(pick.choice(alphabet) for _ in range(pick.randint(0, 90 - len(name))))
        assert ours.fold_binary(name, value) == stock.fold_binary(name, value), (name, value)
    for value in ("Grüße", "=?utf-8?q?Gr=C3=BC=C3=9Fe?=", "a " * 60):
        assert ours.fold_binary("Subject", value) == stock.fold_binary("Subject", value)


def test_a_line_break_in_a_header_is_refused_not_sent() -> None:
    with pytest.raises(ValueError, match="linefeed"):
        wire_email(message(subject="Hello\r\nBcc: victim@example.com"), SENDER)


@pytest.mark.parametrize("tls", [None, "starttls", "implicit"])
async def test_smtp_delivers_over_each_kind_of_connection(tls: str | None) -> None:
    server = SmtpServer(credentials=("courier", "s3cret"), tls=tls)
    server.up()
    channel = SmtpChannel(parse_connection_uri(server.uri), SENDER, timeout=5)
    try:
        await channel.send(message())
        [mail] = await server.wait_for_async(1)
        assert mail.recipients == ["alice@example.com"] and mail.mail_from == "no-reply@warden.test"
        assert mail.subject == "Use code 123456 to log in" and "123456" in mail.text and "<b>123456</b>" in mail.html
        await channel.send(message())
        await server.wait_for_async(2)
        assert server.logins == ["courier"], "the second message went over the session the first one opened"
    finally:
        await channel.close()
        server.down()


async def test_smtp_a_refused_recipient_spoils_no_session_and_a_restarted_server_is_reached_again() -> None:
    server = SmtpServer()
    server.up()
    channel = SmtpChannel(parse_connection_uri(server.uri), SENDER, timeout=5, connections=1)
    try:
        server.reject("bounce@example.com")
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
            await channel.send(message(recipient="bounce@example.com"))
        await channel.send(message())
        server.down()  # drops the session kept open for the next message
        server.up()
        await asyncio.sleep(0.2)
        await channel.send(message(recipient="bob@example.com"))
        assert [m.recipients for m in await server.wait_for_async(2)] == [["alice@example.com"], ["bob@example.com"]]
    finally:
        await channel.close()
        server.down()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_smtp_with_private_ranges_disallowed_connects_to_no_private_address(host: str) -> None:
    """`clients.smtp.disallow_private_ip_ranges`: a literal loopback address and a name that resolves
    to one are refused alike, before a byte is sent, and the error names the switch, not the login."""
    server = SmtpServer(credentials=("courier", "s3cret"))
    server.up()
    uri = server.uri.replace(server.host, host)
    channel = SmtpChannel(parse_connection_uri(uri), SENDER, timeout=5, public_only=True)
    try:
        with pytest.raises(PrivateAddressRefused, match="clients.smtp.disallow_private_ip_ranges") as refused:
            await channel.send(message())
        assert f"{host}:{server.port}" in str(refused.value) and "s3cret" not in str(refused.value)
        assert server.messages == [] and server.logins == []
    finally:
        await channel.close()
        server.down()


async def test_smtp_starttls_is_enforced_unless_disabled() -> None:
    server = SmtpServer()  # offers no STARTTLS
    server.up()
    try:
        enforced = SmtpChannel(parse_connection_uri(f"smtp://{server.host}:{server.port}/"), SENDER, timeout=5)
        with pytest.raises(Exception, match="(?i)starttls"):
            await enforced.send(message())
        assert server.messages == []
    finally:
        server.down()


async def test_smtp_verifies_certificates_unless_told_not_to() -> None:
    server = SmtpServer(tls="implicit")
    server.up()
    try:
        strict = SmtpChannel(parse_connection_uri(f"smtps://{server.host}:{server.port}/"), SENDER, timeout=5)
        with pytest.raises(Exception, match="(?i)certificate"):
            await strict.send(message())
    finally:
        server.down()


@pytest.mark.parametrize("tls", ["implicit", "starttls"])
async def test_smtp_checks_the_certificate_against_server_name(tls: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`?server_name=`: the server at this address shows a certificate for another name (Kratos's
    example: a subdomain host with its parent domain's certificate)."""
    server = SmtpServer(tls=tls, name="mail.warden.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(server.certificate_file))  # the certificate is trusted
    server.up()
    scheme = "smtps" if tls == "implicit" else "smtp"
    try:
        named = SmtpChannel(
            parse_connection_uri(f"{scheme}://{server.host}:{server.port}/?server_name=mail.warden.test"),
            SENDER,
            timeout=5,
        )
        await named.send(message())
        assert len(await server.wait_for_async(1)) == 1
        await named.close()
        unnamed = SmtpChannel(parse_connection_uri(f"{scheme}://{server.host}:{server.port}/"), SENDER, timeout=5)
        with pytest.raises(Exception, match="(?i)certificate"):  # 127.0.0.1 is not the certificate's name
            await unnamed.send(message())
    finally:
        server.down()


@pytest.mark.parametrize(
    ("cert", "key", "problem"),
    [
        ("/nowhere/client.pem", "/nowhere/client.key", "cannot load the client certificate"),
        ("", "/nowhere/client.key", "needs courier.smtp.client_cert_path"),
    ],
)
def test_a_client_certificate_that_cannot_be_used_fails_at_start_up(cert: str, key: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=r"config: courier\.smtp\.client_.*" + problem):
        SmtpChannel(parse_connection_uri("smtps://mail.example/"), SENDER, timeout=5, client_cert=cert, client_key=key)


class HttpSink:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200


@pytest.fixture
async def egress() -> AsyncIterator[Egress]:
    guard = Egress(EgressPolicy())
    yield guard
    await guard.close()


@pytest.fixture
async def sandbox() -> AsyncIterator[JsonnetSandbox]:
    """Where the HTTP channels evaluate their bodies, as the courier's composition root makes it."""
    workers = JsonnetSandbox(size=1)
    yield workers
    await workers.close()


@pytest.fixture
async def http_sink() -> AsyncIterator[tuple[HttpSink, str]]:
    sink = HttpSink()

    async def receive(request: web.Request) -> web.Response:
        sink.requests.append({"method": request.method, "headers": dict(request.headers), "body": await request.text()})
        return web.Response(status=sink.status)

    app = web.Application()
    app.router.add_route("*", "/send", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield sink, f"http://{host}:{port}/send"
    await runner.cleanup()


async def test_http_channel_sends_kratos_default_body(
    http_sink: tuple[HttpSink, str], egress: Egress, sandbox: JsonnetSandbox
) -> None:
    sink, url = http_sink
    auth = {"type": "basic_auth", "config": {"user": "u", "password": "p"}}
    channel = HttpChannel(
        RequestConfig(url, "POST", {"X-Tenant": "t1"}, auth),
        JsonnetBody(DEFAULT_HTTP_BODY, "default"),
        egress,
        sandbox,
        timeout=5,
    )
    await channel.send(
        message(
            "sms",
            template_type="verification_code_valid",
            template_data={"To": "+15550100", "VerificationCode": "424242"},
        )
    )
    [sent] = sink.requests
    assert sent["method"] == "POST" and sent["headers"]["X-Tenant"] == "t1"
    assert sent["headers"]["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    assert json.loads(sent["body"]) == {
        "recipient": "+15550100",
        "template_type": "verification_code_valid",
        "to": "+15550100",
        "recovery_code": None,
        "recovery_url": None,
        "verification_url": None,
        "verification_code": "424242",
        "subject": "",
        "body": "Your code: 123456\n",
    }


async def test_http_channel_with_a_custom_jsonnet_body_and_api_key(
    http_sink: tuple[HttpSink, str], egress: Egress, sandbox: JsonnetSandbox
) -> None:
    sink, url = http_sink
    source = "function(ctx) { to: ctx.recipient, text: ctx.body, html: ctx.html_body, code: ctx.template_data.login_code, kind: ctx.message_type }"
    auth = {"type": "api_key", "config": {"name": "X-Api-Key", "value": "k3y", "in": "header"}}
    channel = HttpChannel(
        RequestConfig(url, "PUT", {}, auth), JsonnetBody(source, "custom"), egress, sandbox, timeout=5
    )
    await channel.send(message())
    sink.status = 503
    with pytest.raises(Exception, match="status code 503"):
        await channel.send(message())
    first = sink.requests[0]
    assert first["method"] == "PUT" and first["headers"]["X-Api-Key"] == "k3y"
    assert json.loads(first["body"]) == {
        "to": "alice@example.com",
        "text": "Your code: 123456\n",
        "html": "<p>Your code: <b>123456</b></p>",
        "code": "123456",
        "kind": "email",
    }


async def test_http_channel_as_kratoss_phone_quickstart_configures_it(
    http_sink: tuple[HttpSink, str], egress: Egress, sandbox: JsonnetSandbox
) -> None:
    """`quickstart/phone-password/kratos.yml`: a form body, from a Jsonnet program written against
    Kratos's older capitalised context (`ctx.Recipient`, `ctx.Body`)."""
    sink, url = http_sink
    source = base64.b64decode("ZnVuY3Rpb24oY3R4KSB7ClRvOiBjdHguUmVjaXBpZW50LApCb2R5OiBjdHguQm9keSwKfQ==").decode()
    config = RequestConfig(
        url,
        "POST",
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"type": "basic_auth", "config": {"user": "AXXXXXXX", "password": "XXXX"}},
    )
    await HttpChannel(config, JsonnetBody(source, "quickstart"), egress, sandbox, timeout=5).send(message("sms"))
    [sent] = sink.requests
    assert sent["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(sent["body"]) == {"To": ["+15550100"], "Body": ["Your code: 123456\n"]}


def test_a_jsonnet_body_may_not_import() -> None:
    body = JsonnetBody('local x = importstr "/etc/passwd"; function(ctx) x', "evil")
    with pytest.raises(JsonnetError, match="imports are not allowed"):
        body.build({"recipient": "+15550100"})


def test_a_jsonnet_body_with_a_syntax_error_fails_when_loaded() -> None:
    with pytest.raises(RuntimeError, match="broken:1:34 Expected a comma"):  # go-jsonnet names the place
        JsonnetBody("function(ctx) { to: ctx.recipient", "broken")


async def test_the_folder_sink_writes_eml_and_sms_files(tmp_path: Path) -> None:
    sink = FolderSink(tmp_path / "mail", SENDER, leak_sensitive_values=False)
    await sink.send(message())
    await sink.send(message("sms", id="1b6f6d7e-41c6-4a8e-9d33-7c8c0c3a1f00"))
    eml = (tmp_path / "mail" / "0b6f6d7e-41c6-4a8e-9d33-7c8c0c3a1f00.eml").read_bytes()
    assert b"Subject: Use code 123456 to log in" in eml and b"To: alice@example.com" in eml
    sms = (tmp_path / "mail" / "1b6f6d7e-41c6-4a8e-9d33-7c8c0c3a1f00.sms.txt").read_text()
    assert sms == "To: +15550100\n\nYour code: 123456\n"
    assert sorted(p.name for p in (tmp_path / "mail").iterdir()) == [
        "0b6f6d7e-41c6-4a8e-9d33-7c8c0c3a1f00.eml",
        "1b6f6d7e-41c6-4a8e-9d33-7c8c0c3a1f00.sms.txt",
    ]


@pytest.mark.parametrize("name", ["all-strategies", "email-password", "passkey", "phone-password", "webauthn"])
async def test_kratoss_quickstart_configs_build_their_channels(
    name: str, egress: Egress, sandbox: JsonnetSandbox
) -> None:
    from services.courier.channels.registry import build_channels
    from services.courier.config import CourierConfig
    from shared.config import load_settings

    async def no_fetch(url: str) -> str:
        raise AssertionError(url)

    folder = Path(__file__).parents[1] / "fixtures" / "quickstart" / name
    settings = load_settings([folder / "kratos.yml"], {"DSN": "memory"})
    channels = await build_channels(CourierConfig.from_settings(settings), settings, egress, no_fetch, sandbox)
    if name == "phone-password":
        assert isinstance(channels["sms"], HttpChannel) and isinstance(channels["email"], FolderSink)
    else:
        assert isinstance(channels["email"], SmtpChannel) and isinstance(channels["sms"], FolderSink)


async def test_delivery_strategy_http_sends_email_through_the_api(
    tmp_path: Path, http_sink: tuple[HttpSink, str], egress: Egress, sandbox: JsonnetSandbox
) -> None:
    from services.courier.channels.registry import build_channels
    from services.courier.config import CourierConfig
    from tests.factories import settings_for

    sink, url = http_sink
    settings = settings_for(
        tmp_path,
        "memory",
        {
            "courier": {
                "delivery_strategy": "http",
                "smtp": {"connection_uri": "smtp://unused:25/"},
                "http": {
                    "request_config": {
                        "url": url,
                        "auth": {"type": "api_key", "config": {"name": "k", "value": "v", "in": "cookie"}},
                    }
                },
            }
        },
    )
    channels = await build_channels(CourierConfig.from_settings(settings), settings, egress, egress.fetch_text, sandbox)
    await channels["email"].send(message())
    [sent] = sink.requests
    assert sent["headers"]["Cookie"] == "k=v"
    assert json.loads(sent["body"])["subject"] == "Use code 123456 to log in"
