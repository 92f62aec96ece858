"""The courier with no mail server configured (the development setup): messages go to the log and to
`./.warden/mail/`, and count as sent; codes reach the log only with `log.leak_sensitive_values`.
Also SMS through an HTTP channel, a command no retry can fix going to the dead-letter queue, and a
courier that stops mid-send handing the message back."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData

from services.courier.consumers import QUEUE
from services.courier.persistence import MessageRepository
from services.courier.service import DEFINITION as COURIER
from services.courier.tables import courier_tables
from shared.bus.envelope import Envelope
from shared.storage.database import Database
from tests.factories import running_warden, settings_for
from tests.integration.test_courier import command, courier_api, publish, status_of, wait_until


@pytest.fixture
def sms_gateway() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A real HTTP server that takes SMS requests (what Kratos's `courier.channels` sms entry calls)."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"auth": self.headers.get("Authorization"), "body": json.loads(body)})
            self.send_response(201)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sms", received
    server.shutdown()
    server.server_close()


def test_without_smtp_mail_goes_to_the_log_and_the_mail_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG)
    settings = settings_for(
        tmp_path,
        f"sqlite://{tmp_path}/warden.sqlite",
        {"courier": {"worker": {"pull_wait": "50ms"}}, "bus": {"max_deliveries": 2}},
    )
    with running_warden(settings, services=[COURIER]) as warden:
        api = courier_api(warden)
        envelope = command()
        unfixable = Envelope(type="courier.message.requested", source="test", data={"template_type": "no_such_type"})
        publish(warden, envelope, unfixable)
        sent = wait_until(lambda: (m := status_of(api, envelope.id)) and m.status == "sent" and m)
        assert [d.status for d in sent.dispatches or []] == ["success"]
        dead = wait_until(lambda: warden.run(warden.process.bus.dead_letters(QUEUE)))
        assert [e.id for e in dead] == [unfixable.id]

    eml = (tmp_path / "mail" / f"{envelope.id}.eml").read_text()  # services.courier.mail_dir (tests/factories.py)
    assert "To: alice@example.com" in eml and "Subject: Use code 314159 to verify your account" in eml
    lines = [
        r.getMessage() + json.dumps(getattr(r, "body", ""))
        for r in caplog.records
        if r.name.startswith("services.courier")
    ]
    assert any("alice@example.com" in line and "verification_code_valid" in line for line in lines)
    assert not any("314159" in line for line in lines), "no code in the log unless leak_sensitive_values"


def test_leak_sensitive_values_logs_bodies_and_sms_goes_through_http(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    sms_gateway: tuple[str, list[dict[str, Any]]],
) -> None:
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG)
    url, received = sms_gateway
    body = base64.b64encode(b"function(ctx) { to: ctx.recipient, text: ctx.body, code: ctx.template_data.login_code }")
    courier = {
        "worker": {"pull_wait": "50ms"},
        "channels": [
            {
                "id": "sms",
                "type": "http",
                "request_config": {
                    "url": url,
                    "body": "base64://" + body.decode(),
                    "auth": {"type": "basic_auth", "config": {"user": "u", "password": "p"}},
                },
            }
        ],
    }
    settings = settings_for(
        tmp_path,
        f"sqlite://{tmp_path}/warden.sqlite",
        {"courier": courier, "log": {"level": "debug", "leak_sensitive_values": True}},
    )
    with running_warden(settings, services=[COURIER]) as warden:
        api = courier_api(warden)
        email, sms = command(), command("login_code_valid", "+15550100", LoginCode="161803")
        publish(warden, email, sms)
        wait_until(lambda: all((m := status_of(api, e.id)) and m.status == "sent" for e in (email, sms)))
        assert status_of(api, sms.id).type == "phone"  # type: ignore[union-attr]

    assert received == [
        {
            "auth": "Basic " + base64.b64encode(b"u:p").decode(),
            "body": {"to": "+15550100", "text": "Your login code is: 161803\n", "code": "161803"},
        }
    ]
    assert not (tmp_path / "mail" / f"{sms.id}.sms.txt").exists()
    assert (tmp_path / "mail" / f"{email.id}.eml").exists()
    bodies = [
        getattr(r, "body", "")
        for r in caplog.records
        if r.levelno == logging.DEBUG and r.name.startswith("services.courier")
    ]
    assert any("314159" in b for b in bodies), "the body is logged at DEBUG when leak_sensitive_values is true"


def test_a_stopping_courier_hands_back_the_message_it_was_sending(tmp_path: Path) -> None:
    # A mail server that takes the connection and never says a word: the send hangs.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    uri = f"smtp://127.0.0.1:{silent.getsockname()[1]}/?disable_starttls=true"
    dsn = f"sqlite://{tmp_path}/warden.sqlite"
    settings = settings_for(
        tmp_path, dsn, {"courier": {"smtp": {"connection_uri": uri}, "worker": {"pull_wait": "50ms"}}}
    )
    try:
        with running_warden(settings, services=[COURIER]) as warden:
            envelope = command()
            publish(warden, envelope)
            wait_until(lambda: (m := status_of(courier_api(warden), envelope.id)) and m.status == "processing")
        message = asyncio.run(_stored(dsn, envelope.id))
    finally:
        silent.close()
    assert message is not None and (message.status, message.send_count) == ("queued", 0)


async def _stored(dsn: str, message_id: str) -> Any:
    database = Database.from_dsn(dsn)
    try:
        async with database.connect() as conn:
            return await MessageRepository(courier_tables(MetaData())).get(conn, message_id)
    finally:
        await database.dispose()
