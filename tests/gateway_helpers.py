"""What the gateway tests (forward-auth, gRPC, Envoy) do to a running Warden: create identities,
sign them in through the internal API, log out through Kratos's native logout."""

from __future__ import annotations

import json
from typing import Any

import urllib3

from tests.conftest import unique

INTERNAL_TOKEN = "gateway-tests-internal-token"
INTERNAL_HEADER = {"X-Warden-Internal-Token": INTERNAL_TOKEN}
COOKIE_SECRET = "gateway-tests-cookie-secret-0123456789"
CHECK_HEADERS = {"email": "X-User-Email", "name.first": "X-User-First-Name"}


def gateway_config(**extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "secrets": {"cookie": [COOKIE_SECRET]},
        "services": {"internal_token": INTERNAL_TOKEN},
        "session": {"check": {"headers": CHECK_HEADERS}},
    }
    config.update(extra)
    return config


def create_identity(admin_url: str, traits: dict[str, Any] | None = None) -> str:
    body = {"schema_id": "default", "traits": traits or {"email": f"{unique('u')}@example.com"}}
    response = urllib3.request("POST", f"{admin_url}/admin/identities", json=body)
    assert response.status == 201, response.data
    return str(json.loads(response.data)["id"])


def sign_in(admin_url: str, identity_id: str, aal: str = "aal1") -> tuple[str, dict[str, Any]]:
    """A new session's token and JSON, as the login flow's session hook would issue it."""
    response = urllib3.request(
        "POST",
        f"{admin_url}/internal/session/sessions",
        headers=INTERNAL_HEADER,
        json={
            "identity_id": identity_id,
            "methods": [{"method": "password", "aal": aal}],
            "device": {"ip_address": "203.0.113.7", "user_agent": "gateway-tests"},
        },
    )
    assert response.status == 201, response.data
    body = json.loads(response.data)
    return body["session_token"], body["session"]


def log_out(public_url: str, token: str) -> None:
    response = urllib3.request("DELETE", f"{public_url}/self-service/logout/api", json={"session_token": token})
    assert response.status == 204, response.data
