"""`clients.smtp.disallow_private_ip_ranges` in a running courier, against a real SMTP server on
127.0.0.1: with the switch on, no mail reaches it, and the message is retried, then abandoned, with
the reason in its dispatches and in the log (and the server's password in neither); with it off,
the same server gets the mail."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.courier.service import DEFINITION as COURIER
from tests.factories import running_warden, settings_for
from tests.integration.test_courier import command, courier_api, publish, status_of, wait_until
from tests.smtp import SmtpServer

PASSWORD = "pa55-w0rd-of-the-relay"
REASON = "clients.smtp.disallow_private_ip_ranges"


@pytest.fixture
def relay() -> Iterator[SmtpServer]:
    """A mail server on a loopback address that wants a login (its password is in the connection URI)."""
    server = SmtpServer(credentials=("courier", PASSWORD))
    server.up()
    try:
        yield server
    finally:
        server.down()


def settings(tmp_path: Path, relay: SmtpServer, *, disallow: bool) -> Any:
    return settings_for(
        tmp_path,
        f"sqlite://{tmp_path}/warden.sqlite",
        {
            "courier": {"smtp": {"connection_uri": relay.uri}, "worker": {"pull_wait": "20ms"}, "message_retries": 1},
            "clients": {"smtp": {"disallow_private_ip_ranges": disallow}},
        },
    )


def test_with_private_ranges_disallowed_no_mail_goes_to_a_loopback_server(
    tmp_path: Path, relay: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="services.courier")
    with running_warden(settings(tmp_path, relay, disallow=True), services=[COURIER]) as warden:
        api = courier_api(warden)
        envelope = command()
        publish(warden, envelope)
        abandoned = wait_until(lambda: (m := status_of(api, envelope.id)) and m.status == "abandoned" and m)

    assert relay.messages == [] and relay.logins == [], "the courier never connected"
    assert abandoned.send_count == 2, "the first try and message_retries=1 retry, as for a server that is down"
    errors = [str(d.error) for d in abandoned.dispatches or []]
    assert len(errors) == 2 and all(REASON in e and "127.0.0.1" in e for e in errors)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("services.courier")]
    assert any("abandoned" in line and REASON in line for line in lines), "the log says why it was not sent"
    assert not any(PASSWORD in line for line in lines + errors)


def test_with_private_ranges_allowed_the_loopback_server_gets_the_mail(tmp_path: Path, relay: SmtpServer) -> None:
    with running_warden(settings(tmp_path, relay, disallow=False), services=[COURIER]) as warden:
        api = courier_api(warden)
        envelope = command()
        publish(warden, envelope)
        [mail] = relay.wait_for(1)
        sent = wait_until(lambda: (m := status_of(api, envelope.id)) and m.status == "sent" and m)

    assert mail.recipients == ["alice@example.com"] and relay.logins == ["courier"]
    assert sent.send_count == 1
