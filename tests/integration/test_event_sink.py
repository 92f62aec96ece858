"""The signed event sink: subscriptions in config receive Warden's domain events over HTTP, signed
as Standard Webhooks, and the receiver here checks them the way the specification tells receivers
to (the signed content `id.timestamp.body`, HMAC-SHA256 with the decoded `whsec_` key, a
constant-time comparison, a timestamp tolerance)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.conftest import unique
from tests.factories import running_warden
from tests.selfservice_helpers import PASSWORD, selfservice_settings
from tests.webhook_receiver import Received, WebhookReceiver
from warden.services import by_name

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
PLAIN_SECRET = "a-plain-secret-of-some-length"
TOLERANCE_SECONDS = 300


def verified(request: Received, secret: str) -> dict[str, Any]:
    """What a receiver does before trusting a call; raises if the call is not genuine."""
    webhook_id = request.headers["webhook-id"]
    timestamp = request.headers["webhook-timestamp"]
    assert abs(time.time() - int(timestamp)) < TOLERANCE_SECONDS, "a replayed or badly dated call"
    key = base64.b64decode(secret.removeprefix("whsec_")) if secret.startswith("whsec_") else secret.encode()
    content = f"{webhook_id}.{timestamp}.".encode() + request.body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    offered = [s.split(",", 1)[1] for s in request.headers["webhook-signature"].split(" ") if s.startswith("v1,")]
    if not any(hmac.compare_digest(expected, s) for s in offered):
        raise ValueError("signature mismatch")
    return json.loads(request.body)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    found = WebhookReceiver().start()
    yield found
    found.close()


def test_subscribers_receive_signed_events_they_can_verify(tmp_path: Path, receiver: WebhookReceiver) -> None:
    subscriptions = [
        {
            "id": "crm",
            "url": receiver.url("/crm"),
            "events": ["identity.created", "selfservice.registration.*"],
            "secret": SECRET,
        },
        {"id": "audit", "url": receiver.url("/audit"), "events": ["#"], "secret": PLAIN_SECRET},
    ]
    settings = selfservice_settings(
        tmp_path, f"sqlite://{tmp_path}/warden.sqlite", webhooks={"subscriptions": subscriptions}
    )
    email = f"{unique('sink')}@example.com"
    with running_warden(settings) as warden:
        flow = urllib3.request("GET", f"{warden.public_url}/self-service/registration/api").json()
        answer = urllib3.request(
            "POST",
            f"{warden.public_url}/self-service/registration?flow={flow['id']}",
            json={"method": "password", "traits": {"email": email}, "password": PASSWORD},
        ).json()
        crm = receiver.wait_for(2, "/crm")
        receiver.wait_for(3, "/audit")  # identity.created, session.issued, the registration event, …

    identity_id = answer["identity"]["id"]
    events = {e["type"]: e for e in (verified(r, SECRET) for r in crm)}
    assert set(events) == {"identity.created", "selfservice.registration.succeeded"}
    assert events["identity.created"]["data"]["identity_id"] == identity_id
    assert events["selfservice.registration.succeeded"]["source"] == "selfservice"
    assert all(r.headers["webhook-id"] == r.headers["Idempotency-Key"] for r in crm)
    assert len({r.headers["webhook-id"] for r in crm}) == 2

    audited = [verified(r, PLAIN_SECRET) for r in receiver.requests("/audit")]
    types = {e["type"] for e in audited}
    assert {"identity.created", "session.issued"} <= types
    assert not [t for t in types if t.startswith("courier.")], "commands (with their codes) are not events"

    tampered = crm[0]
    forged = Received(tampered.method, tampered.path, tampered.headers, tampered.body.replace(b"identity", b"xdentity"))
    with pytest.raises(ValueError, match="signature mismatch"):
        verified(forged, SECRET)
    with pytest.raises(ValueError, match="signature mismatch"):
        verified(tampered, "whsec_" + base64.b64encode(os.urandom(32)).decode())


def test_every_queue_a_consumer_reads_is_one_its_service_declares_for_the_others(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    """Every process declares every service's queues (`ServiceDefinition.queues`) before it
    publishes: a consumer reading a queue its service does not declare would miss what was
    published while it was down, the event sink's (there only when configured) included."""
    subscriptions = [{"id": "audit", "url": receiver.url("/audit"), "events": ["#"], "secret": PLAIN_SECRET}]
    settings = selfservice_settings(
        tmp_path, f"sqlite://{tmp_path}/warden.sqlite", webhooks={"subscriptions": subscriptions}
    )
    with running_warden(settings) as warden:
        for runtime in warden.process._runtimes:
            declared = {(q.name, tuple(q.routing_keys)) for q in by_name(runtime.name).queues(warden.process.settings)}
            read = {(s.queue, tuple(s.routing_keys)) for s in runtime.subscriptions if not s.transient}
            assert read == declared, runtime.name
        assert ("courier.event_sink", ("#",)) in {
            (q.name, q.routing_keys) for q in by_name("courier").queues(warden.process.settings)
        }
