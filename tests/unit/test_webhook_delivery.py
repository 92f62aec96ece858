"""The pieces of reliable delivery that need no server: Standard Webhooks signatures (the
specification's own example), subscriptions checked against the event catalogue, backoff and
Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from services.courier.webhooks.config import DeliveryConfig, subscriptions
from services.courier.webhooks.sender import _retry_after
from shared.errors import ConfigError
from shared.webhooks.signature import sign
from tests.factories import settings_for


def test_the_standard_webhooks_example_signature() -> None:
    signed = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    )
    assert signed == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def _subscribed(tmp_path: Path, events: list[str]) -> list[str]:
    sub = {"id": "crm", "url": "https://crm.example.com/hook", "events": events, "secret": "s" * 20}
    settings = settings_for(tmp_path, "memory", {"webhooks": {"subscriptions": [sub]}})
    [found] = subscriptions(settings)
    return [name for name in ("identity.created", "session.issued", "courier.message.requested") if found.wants(name)]


def test_subscriptions_name_events_of_the_catalogue_and_never_receive_commands(tmp_path: Path) -> None:
    assert _subscribed(tmp_path, ["identity.*"]) == ["identity.created"]
    assert _subscribed(tmp_path, ["#"]) == ["identity.created", "session.issued"], "commands are not events"
    for wrong in (["identity.craeted"], ["courier.message.requested"]):
        with pytest.raises(ConfigError, match=r"webhooks\.subscriptions\[0\]\.events\[0\]"):
            _subscribed(tmp_path, wrong)


def test_backoff_doubles_up_to_its_ceiling_and_retry_after_reads_seconds_or_a_date() -> None:
    config = DeliveryConfig(initial_backoff=1.0, max_backoff=5.0)
    assert [config.backoff(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    assert _retry_after("7") == 7.0 and _retry_after(None) is None and _retry_after("soon") is None
    later = _retry_after(format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True))
    assert later is not None and 100 < later <= 120
