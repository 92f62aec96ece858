"""Review finding 9, the process side: SIGTERM lets requests in flight finish before the ports,
the bus and the database close. A registration whose identity was created when the signal came
answers 200 with that identity, not a 5xx for an identity that nevertheless exists.

(`WardenProcess.stop` already closed the ports first and aiohttp waits for handlers in flight: this
pins that order. The other half of the finding, the verification mail following from the committed
`identity.created` event, is not done yet.)"""

from __future__ import annotations

import base64
import json
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import urllib3

from tests.e2e.warden_process import WardenProcess
from tests.factories import write_config
from tests.selfservice_helpers import PASSWORD, selfservice_extra
from tests.webhook_receiver import WebhookReceiver

HOOK_SECONDS = 2.0


def test_finding_9_sigterm_drains_a_registration_in_flight(tmp_path: Path) -> None:
    receiver = WebhookReceiver(delay=lambda _r: HOOK_SECONDS).start()
    try:
        # A synchronous web hook after the identity is created holds the request open at the worst moment.
        hook = {
            "hook": "web_hook",
            "config": {
                "url": receiver.url("/slow"),
                "method": "POST",
                "body": "base64://" + base64.b64encode(b"function(ctx) { id: ctx.identity.id }").decode(),
            },
        }
        extra = selfservice_extra(flows={"registration": {"after": {"password": {"hooks": [hook]}}}})
        config = write_config(tmp_path, f"sqlite://{tmp_path}/warden.sqlite", extra)
        warden = WardenProcess(["serve", "-c", str(config)], env={}, cwd=tmp_path)
        warden.wait_ready()
        flow = json.loads(urllib3.request("GET", f"{warden.url('public')}/self-service/registration/api").data)
        answer: dict[str, Any] = {}

        def register() -> None:
            response = urllib3.request(
                "POST",
                f"{warden.url('public')}/self-service/registration?flow={flow['id']}",
                json={"method": "password", "traits": {"email": "drained@example.com"}, "password": PASSWORD},
                retries=False,
                timeout=30,
            )
            answer.update(status=response.status, body=json.loads(response.data))

        caller = threading.Thread(target=register)
        caller.start()
        deadline = time.monotonic() + 20
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.02)
        assert receiver.received, "the registration never reached its web hook"
        warden.proc.send_signal(signal.SIGTERM)  # the identity exists; the answer is still on its way
        caller.join(30)
        assert warden.proc.wait(30) == 0
    finally:
        receiver.stop()
    assert answer["status"] == 200, answer
    created = answer["body"]["identity"]["id"]
    with sqlite3.connect(tmp_path / "warden.sqlite") as db:
        assert db.execute("SELECT id FROM identity_identities").fetchall() == [(created,)]
