"""Fire-and-forget web hooks (`response.ignore: true`) are delivered reliably, with real receivers
on loopback: every call arrives exactly once per idempotency key after the receiver was down for
10 s; failed deliveries are listed and retried from the admin API; Retry-After is honoured."""

from __future__ import annotations

import base64
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import urllib3

from shared.metrics.courier import OUTCOMES
from tests.conftest import unique
from tests.factories import ThreadedWarden, running_warden
from tests.integration.test_courier_faults import LoopThread, proxied_amqp  # noqa: F401  (the fixture)
from tests.metrics_helpers import scrape, value
from tests.selfservice_helpers import PASSWORD, SESSION_HOOK, selfservice_settings
from tests.tcp_proxy import TcpProxy
from tests.webhook_receiver import Received, WebhookReceiver

BODY = "function(ctx) { email: ctx.identity.traits.email, id: ctx.identity.id }"


def fire_and_forget(url: str) -> dict[str, Any]:
    return {
        "hook": "web_hook",
        "config": {
            "url": url,
            "method": "POST",
            "body": "base64://" + base64.b64encode(BODY.encode()).decode(),
            "auth": {"type": "basic_auth", "config": {"user": "warden", "password": "hook-pass"}},
            "response": {"ignore": True},
        },
    }


def hook_settings(directory: Path, url: str, dsn: str | None = None, bus: Any = None, **delivery: Any) -> Any:
    flows = {"registration": {"after": {"password": {"hooks": [*SESSION_HOOK, fire_and_forget(url)]}}}}
    extra = {"bus": bus} if bus else {}
    return selfservice_settings(
        directory,
        dsn or f"sqlite://{directory}/warden.sqlite",
        session_hook=False,
        flows=flows,
        webhooks={"delivery": {"initial_backoff": "200ms", "max_backoff": "2s", **delivery}},
        **extra,
    )


def register(warden: ThreadedWarden, email: str) -> dict[str, Any]:
    flow = urllib3.request("GET", f"{warden.public_url}/self-service/registration/api").json()
    response = urllib3.request(
        "POST",
        f"{warden.public_url}/self-service/registration?flow={flow['id']}",
        json={"method": "password", "traits": {"email": email}, "password": PASSWORD},
    )
    assert response.status == 200, response.data
    return response.json()


def deliveries(warden: ThreadedWarden, status: str | None = None) -> list[dict[str, Any]]:
    fields = {"status": status} if status else {}
    response = urllib3.request("GET", f"{warden.admin_url}/admin/courier/webhooks", fields=fields)
    assert response.status == 200, response.data
    return response.json()


def wait_until(check: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    found = WebhookReceiver()
    yield found
    found.close()


def test_every_call_arrives_once_per_idempotency_key_after_the_receiver_was_down_for_10s(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    with running_warden(hook_settings(tmp_path, receiver.url(), max_attempts=30)) as warden:
        emails = [f"{unique('ff')}@example.com" for _ in range(5)]
        answers = [register(warden, email) for email in emails]  # the receiver is down: the flows go on
        assert all(a["session"]["active"] for a in answers)
        time.sleep(10)
        assert receiver.requests() == [] and len(deliveries(warden)) == 5
        receiver.start()
        receiver.wait_for(5)
        wait_until(lambda: [d["status"] for d in deliveries(warden)] == ["sent"] * 5)

    calls = receiver.requests()
    keys = Counter(r.headers["Idempotency-Key"] for r in calls)
    assert len(keys) == 5 and set(keys.values()) == {1}, "exactly once per idempotency key"
    assert sorted(r.json()["email"] for r in calls) == sorted(emails)
    assert {r.headers["Authorization"] for r in calls} == {"Basic " + base64.b64encode(b"warden:hook-pass").decode()}
    assert {a["identity"]["id"] for a in answers} == {r.json()["id"] for r in calls}


def test_abandoned_deliveries_are_listed_and_retried_from_the_admin_api(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    refusing = {"on": True}

    def answer(_request: Received) -> tuple[int, Any, dict[str, str]]:
        return (503, None, {"Retry-After": "2"}) if refusing["on"] else (200, None, {})

    receiver.answer = answer
    receiver.start()
    with running_warden(hook_settings(tmp_path, receiver.url(), max_attempts=2)) as warden:
        email = f"{unique('retry')}@example.com"
        register(warden, email)
        wait_until(lambda: [d["send_count"] for d in deliveries(warden)] == [1])
        [waiting] = deliveries(warden)
        # Retry-After: 2 outweighs the 200 ms backoff: the next attempt is scheduled 2 s after this one.
        scheduled = datetime.fromisoformat(waiting["next_attempt_at"]) - datetime.fromisoformat(waiting["updated_at"])
        assert scheduled >= timedelta(seconds=2) and waiting["status"] == "queued"
        wait_until(lambda: len(deliveries(warden, "abandoned")) == 1)
        [abandoned] = deliveries(warden, "abandoned")
        assert abandoned["send_count"] == 2 and "503" in abandoned["last_error"]
        first, second = receiver.requests()
        assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == abandoned["id"]
        assert len(receiver.requests()) == 2, "no attempt after the last one"

        refusing["on"] = False
        retried = urllib3.request("POST", f"{warden.admin_url}/admin/courier/webhooks/{abandoned['id']}/retry")
        assert retried.status == 200 and retried.json()["status"] == "queued"
        wait_until(lambda: deliveries(warden, "sent") != [])
        metrics = scrape(warden.admin_url)
        counted = {
            o: value(metrics, "warden_courier_webhook_deliveries_total", kind="web_hook", outcome=o) for o in OUTCOMES
        }
        assert counted == {"sent": 1, "failed": 2, "abandoned": 1}
        again = urllib3.request("POST", f"{warden.admin_url}/admin/courier/webhooks/{abandoned['id']}/retry")
        assert again.status == 409, "only an abandoned delivery can be retried"
        missing = urllib3.request("POST", f"{warden.admin_url}/admin/courier/webhooks/{unique('x')}/retry")
        assert missing.status == 400
        public = urllib3.request("GET", f"{warden.public_url}/admin/courier/webhooks", redirect=False)
        assert public.status == 307, "the admin API is not served on the public port (Kratos redirects)"

    assert receiver.requests()[-1].json()["email"] == email and len(receiver.requests()) == 3


@pytest.mark.postgres
@pytest.mark.rabbitmq
def test_every_call_arrives_once_when_rabbitmq_is_cut_mid_run(
    tmp_path: Path,
    pg_dsn: str,
    receiver: WebhookReceiver,
    proxied_amqp: tuple[TcpProxy, LoopThread, str],  # noqa: F811
) -> None:
    proxy, loop, url = proxied_amqp
    receiver.start()
    settings = hook_settings(tmp_path, receiver.url(), pg_dsn, {"url": url, "exchange": unique("warden_test")})
    with running_warden(settings) as warden:
        before = [f"{unique('before')}@example.com" for _ in range(3)]
        for email in before:
            register(warden, email)
        receiver.wait_for(3)

        loop.run(proxy.cut())
        wait_until(lambda: not warden.run(warden.process.bus.healthy()))
        during = [f"{unique('during')}@example.com" for _ in range(5)]
        for email in during:
            register(warden, email)  # the commands wait in self-service's outbox
        loop.run(proxy.start())

        receiver.wait_for(8)
        wait_until(lambda: [d["status"] for d in deliveries(warden)] == ["sent"] * 8)

    calls = receiver.requests()
    keys = Counter(r.headers["Idempotency-Key"] for r in calls)
    assert len(keys) == 8 and set(keys.values()) == {1}, "exactly once per idempotency key"
    assert sorted(r.json()["email"] for r in calls) == sorted(before + during)


def test_a_delivery_never_carries_the_credentials_of_the_hook_that_replaced_its_own(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    """Headers and `auth` are read from the config entry when a delivery is sent. After the config
    changed (hooks reordered, one removed), the entry at a waiting delivery's key may be another
    hook: its credentials must not go to the first hook's receiver."""
    with running_warden(hook_settings(tmp_path, receiver.url(), max_attempts=1)) as warden:
        register(warden, f"{unique('moved')}@example.com")
        wait_until(lambda: len(deliveries(warden, "abandoned")) == 1)  # the receiver was down
        [abandoned] = deliveries(warden, "abandoned")

    replacement = fire_and_forget("https://analytics.example.net/collect")
    replacement["config"]["auth"] = {
        "type": "api_key",
        "config": {"name": "X-Api-Key", "value": "analytics-secret", "in": "header"},
    }
    flows = {"registration": {"after": {"password": {"hooks": [*SESSION_HOOK, replacement]}}}}
    settings = selfservice_settings(
        tmp_path,
        f"sqlite://{tmp_path}/warden.sqlite",
        session_hook=False,
        flows=flows,
        webhooks={"delivery": {"initial_backoff": "200ms", "max_backoff": "2s", "max_attempts": 1}},
    )
    receiver.start()
    with running_warden(settings) as warden:
        retried = urllib3.request("POST", f"{warden.admin_url}/admin/courier/webhooks/{abandoned['id']}/retry")
        assert retried.status == 200, retried.data
        wait_until(lambda: deliveries(warden, "queued") == [] and deliveries(warden, "processing") == [])
        [after] = deliveries(warden)
        assert after["status"] == "abandoned" and "no longer configured" in after["last_error"], after

    assert [r.headers.get("X-Api-Key") for r in receiver.requests()] == []
