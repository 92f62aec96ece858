"""The courier service in a running Warden, on SQLite and PostgreSQL, with a real SMTP server:
commands on the bus become sent emails, once each; the admin API through Kratos's SDK; retries
while the mail server is down; a refused recipient abandoned without holding up the others."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import ory_kratos_client as kratos
import pytest
import urllib3
from ory_kratos_client.api.courier_api import CourierApi
from ory_kratos_client.exceptions import ApiException

from services.courier.service import DEFINITION as COURIER
from shared.bus.envelope import Envelope
from tests.factories import ThreadedWarden, running_warden, settings_for
from tests.metrics_helpers import scrape, value
from tests.smtp import SmtpServer, smtp_server  # noqa: F401  (the fixture)

T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout: float = 10.0) -> T:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.02)
    return result


def command(
    template_type: str = "verification_code_valid", recipient: str = "alice@example.com", **data: Any
) -> Envelope:
    template_data = {
        "VerificationCode": "314159",
        "VerificationURL": "https://id.example/verify?code=314159",
        "ExpiresInMinutes": 15,
        **data,
    }
    return Envelope(
        type="courier.message.requested",
        source="test",
        data={"template_type": template_type, "recipient": recipient, "template_data": template_data},
    )


def courier_settings(tmp_path: Path, dsn: str, smtp: SmtpServer, **courier: Any) -> Any:
    section = {
        "smtp": {
            "connection_uri": smtp.uri,
            "from_address": "no-reply@warden.test",
            "from_name": "Warden",
            "headers": {"X-Warden-Test": "yes"},
        },
        "worker": {"pull_wait": "50ms"},
        **courier,
    }
    return settings_for(tmp_path, dsn, {"courier": section})


@pytest.fixture
def start(tmp_path: Path, any_dsn: str, smtp_server: SmtpServer) -> Iterator[Callable[..., ThreadedWarden]]:  # noqa: F811
    running: list[Any] = []

    def start_with(**courier: Any) -> ThreadedWarden:
        context = running_warden(courier_settings(tmp_path, any_dsn, smtp_server, **courier), services=[COURIER])
        running.append(context)
        return context.__enter__()

    yield start_with
    for context in reversed(running):
        context.__exit__(None, None, None)


def courier_api(warden: ThreadedWarden) -> CourierApi:
    return CourierApi(kratos.ApiClient(kratos.Configuration(host=warden.admin_url)))


def publish(warden: ThreadedWarden, *envelopes: Envelope) -> None:
    for envelope in envelopes:
        warden.run(warden.process.bus.publish(envelope))


def status_of(api: CourierApi, message_id: str) -> kratos.Message | None:
    """The message, or None while the command is still on its way."""
    try:
        return api.get_courier_message(message_id)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def test_a_command_becomes_one_sent_email_even_if_delivered_twice(
    start: Callable[..., ThreadedWarden],
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    warden = start()
    api = courier_api(warden)
    envelope = command()
    publish(warden, envelope, envelope)  # what a relay that lost a publisher confirm does

    [mail] = smtp_server.wait_for(1)
    assert mail.recipients == ["alice@example.com"] and mail.to == "alice@example.com"
    assert mail.sender == "Warden <no-reply@warden.test>" and mail.mail_from == "no-reply@warden.test"
    assert mail.subject == "Use code 314159 to verify your account"
    assert "314159" in mail.text and "https://id.example/verify?code=314159" in mail.text
    assert 'href="https://id.example/verify?code=314159"' in mail.html
    assert mail.message["X-Warden-Test"] == "yes"

    message = wait_until(lambda: (m := status_of(api, envelope.id)) and m.status == "sent" and m)
    assert (message.recipient, message.template_type, message.type, message.channel) == (
        "alice@example.com",
        "verification_code_valid",
        "email",
        "email",
    )
    assert message.subject == mail.subject and message.body == mail.text and message.send_count == 1
    assert [d.status for d in message.dispatches or []] == ["success"]
    publish(warden, envelope)
    time.sleep(0.3)
    assert len(api.list_courier_messages()) == 1 and len(smtp_server.messages) == 1


def test_the_admin_api_lists_filters_and_pages(start: Callable[..., ThreadedWarden], smtp_server: SmtpServer) -> None:  # noqa: F811
    warden = start()
    api = courier_api(warden)
    envelopes = [command(recipient="a@example.com") for _ in range(3)] + [
        command("login_code_valid", "b@example.com", LoginCode=f"00000{n}") for n in range(2)
    ]
    for envelope in envelopes:
        publish(warden, envelope)
        time.sleep(0.01)  # distinct creation times, so the newest-first order is known
    smtp_server.wait_for(5)
    wait_until(lambda: len(api.list_courier_messages(status="sent")) == 5)

    listed = api.list_courier_messages()
    assert [m.id for m in listed] == [e.id for e in reversed(envelopes)], "newest first, as Kratos lists them"
    assert all(m.dispatches is None for m in listed), "dispatches only on the single message"
    assert {m.id for m in api.list_courier_messages(recipient="b@example.com")} == {e.id for e in envelopes[3:]}
    assert api.list_courier_messages(status="queued") == [] and api.list_courier_messages(status="abandoned") == []
    assert api.list_courier_messages(recipient="nobody@example.com") == []

    seen: list[str] = []
    token = None
    while True:
        response = api.list_courier_messages_with_http_info(page_size=2, page_token=token)
        seen += [m.id for m in response.data]
        link = response.headers["Link"]
        if 'rel="next"' not in link:
            break
        token = link.split("page_token=")[1].split(">")[0]
        assert not any(m.id in token for m in listed), "a token names no message (secrets.pagination)"
    assert seen == [m.id for m in listed]
    filtered = api.list_courier_messages_with_http_info(page_size=1, recipient="a@example.com")
    assert (
        "recipient=a%40example.com" in filtered.headers["Link"] or "recipient=a@example.com" in filtered.headers["Link"]
    )

    with pytest.raises(ApiException) as missing:
        api.get_courier_message("9d9ec04e-7d45-4b9f-b0a3-2a1c0a3e7f00")
    assert missing.value.status == 404
    with pytest.raises(ApiException) as malformed:
        api.get_courier_message("not-a-uuid")
    assert malformed.value.status == 400
    assert urllib3.request("GET", f"{warden.admin_url}/admin/courier/messages?status=lost").status == 400
    assert urllib3.request("GET", f"{warden.admin_url}/admin/courier/messages?page_token=bm9wZQ").status == 400


def test_retries_while_the_mail_server_is_down_then_sends(
    start: Callable[..., ThreadedWarden],
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    warden = start(message_retries=10)
    api = courier_api(warden)
    smtp_server.down()
    envelope = command()
    publish(warden, envelope)
    failing = wait_until(lambda: (m := status_of(api, envelope.id)) and m.send_count >= 3 and m)
    assert failing.status in ("queued", "processing")
    assert {d.status for d in failing.dispatches or []} == {"failed"}
    assert "Connect" in str(failing.dispatches[0].error)

    smtp_server.up()
    [mail] = smtp_server.wait_for(1)
    assert mail.subject == "Use code 314159 to verify your account"
    sent = wait_until(lambda: (m := status_of(api, envelope.id)) and m.status == "sent" and m)
    statuses = [d.status for d in sent.dispatches or []]
    assert statuses[0] == "success" and set(statuses[1:]) == {"failed"}, "newest dispatch first"
    assert sent.send_count == len(statuses) >= 4


def test_a_refused_recipient_is_abandoned_and_holds_up_no_one(
    start: Callable[..., ThreadedWarden],
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    warden = start(message_retries=2)
    api = courier_api(warden)
    smtp_server.reject("bounce@example.com")
    refused = command(recipient="bounce@example.com")
    others = [command(recipient=f"user{n}@example.com") for n in range(4)]
    publish(warden, refused, *others)

    assert sorted(r for m in smtp_server.wait_for(4) for r in m.recipients) == [
        f"user{n}@example.com" for n in range(4)
    ]
    abandoned = wait_until(lambda: (m := status_of(api, refused.id)) and m.status == "abandoned" and m)
    assert abandoned.send_count == 3, "the first try and message_retries=2 retries"
    assert [d.status for d in abandoned.dispatches or []] == ["failed"] * 3
    assert "Recipient address rejected" in str(abandoned.dispatches[0].error)
    for other in others:
        message = wait_until(lambda other=other: (m := status_of(api, other.id)) and m.status == "sent" and m)
        assert message.send_count == 1
    assert smtp_server.to("bounce@example.com") == []
    metrics = scrape(warden.admin_url)  # what the courier-abandoning alert and the dashboard read
    assert value(metrics, "warden_courier_messages_queued_total", channel="email") == 5
    assert value(metrics, "warden_courier_messages_sent_total", channel="email") == 4
    assert value(metrics, "warden_courier_send_failures_total", channel="email") == 3
    assert value(metrics, "warden_courier_messages_abandoned_total", channel="email") == 1
