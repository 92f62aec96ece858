"""Two processes that do not share the same `services.internal_token`: the operator's mistake is
said in the log, and a user meets a 503, not a 401 that names Warden's internal API."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import urllib3

from tests.factories import running_warden, settings_for
from tests.gateway_helpers import gateway_config
from warden.services import by_name


def test_a_token_the_other_service_refuses_is_a_503_for_the_user_and_an_error_in_the_log(
    tmp_path: Path, pg_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "identity").mkdir()
    (tmp_path / "rest").mkdir()
    identity_config = gateway_config(services={"internal_token": "the-identity-service-token-0123"})
    with running_warden(
        settings_for(tmp_path / "identity", pg_dsn, identity_config), [by_name("identity")]
    ) as identity:
        services = {
            "internal_token": "another-token-than-identitys-0123",
            "identity": {"internal_url": identity.admin_url},
        }
        others = [by_name("session"), by_name("selfservice"), by_name("courier")]
        with running_warden(settings_for(tmp_path / "rest", pg_dsn, gateway_config(services=services)), others) as rest:
            flow = json.loads(urllib3.request("GET", f"{rest.public_url}/self-service/registration/api").data)
            with caplog.at_level(logging.ERROR, logger="shared.clients.http"):
                answer = urllib3.request(
                    "POST",
                    f"{rest.public_url}/self-service/registration?flow={flow['id']}",
                    json={
                        "method": "password",
                        "password": "a-long-enough-pass-9876",
                        "traits": {"email": "x@example.com"},
                    },
                )
    assert answer.status == 503, answer.data
    assert b"internal" not in answer.data.lower() and b"token" not in answer.data.lower()
    assert any("services.internal_token" in record.getMessage() for record in caplog.records)
