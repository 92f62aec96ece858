"""`POST /admin/recovery/code` and `/admin/recovery/link` as Kratos answers them
(`selfservice/strategy/code/strategy_recovery_admin.go`, `link/strategy_recovery.go`,
`selfservice/strategy/handler.go`):

* the flow an operator's code opens shows the code field and a Submit button and nothing else: no
  address to resend to (the operator mailed nothing, and the flow is for whoever holds the link)
  and no "an email has been sent" message;
* an admin route of a method that is switched off is Kratos's `IsDisabled` answer, 404 "This
  endpoint was disabled by system administrator…", as any disabled endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import urllib3

from tests.factories import ThreadedWarden
from tests.mail_helpers import mail_warden
from tests.selfservice_helpers import create_identity
from tests.smtp import SmtpServer

DISABLED = (
    "This endpoint was disabled by system administrator. Please check your url or contact the system "
    "administrator to enable it."
)


@pytest.fixture(scope="module")
def warden(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[ThreadedWarden]:
    """Recovery by code; the link method off."""
    directory = tmp_path_factory.mktemp("admin-recovery")
    with mail_warden(directory, f"sqlite://{directory}/warden.sqlite", smtp, use="code") as stack:
        yield stack.warden


def _admin(warden: ThreadedWarden, method: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = urllib3.request("POST", f"{warden.admin_url}/admin/recovery/{method}", json=body)
    return response.status, json.loads(response.data)


def _flow(warden: ThreadedWarden, recovery_link: str) -> dict[str, Any]:
    flow_id = parse_qs(urlsplit(recovery_link).query)["flow"][0]
    fetched = urllib3.request("GET", f"{warden.public_url}/self-service/recovery/flows?id={flow_id}")
    assert fetched.status == 200, fetched.data
    return dict(json.loads(fetched.data))


@pytest.mark.parametrize("flow_type", [None, "api"])
def test_an_admin_code_flow_shows_the_code_field_and_submit_only(warden: ThreadedWarden, flow_type: str | None) -> None:
    email = f"operator-form-{flow_type}@example.com"
    identity_id = create_identity(warden.admin_url, email)
    body = {"identity_id": identity_id} | ({"flow_type": flow_type} if flow_type else {})
    status, issued = _admin(warden, "code", body)
    assert status == 201, issued
    flow = _flow(warden, issued["recovery_link"])
    assert flow["state"] == "sent_email"
    shown = [
        (n["group"], n["attributes"]["name"], n["attributes"]["type"], n["meta"].get("label", {}).get("id"))
        for n in flow["ui"]["nodes"]
    ]
    assert shown == [("code", "code", "text", 1070010), ("code", "method", "submit", 1070005)], shown
    assert not flow["ui"].get("messages"), "the operator mailed nothing"
    assert email not in json.dumps(flow), "the flow does not show the account's address"


def test_an_admin_route_of_a_disabled_method_is_404_endpoint_disabled(warden: ThreadedWarden) -> None:
    identity_id = create_identity(warden.admin_url, "operator-off@example.com")
    status, answer = _admin(warden, "link", {"identity_id": identity_id})
    assert status == 404, answer
    assert answer["error"]["code"] == 404 and answer["error"]["reason"] == DISABLED, answer


@pytest.mark.parametrize(
    ("expires_in", "reason"),
    [
        ("soon", 'Unable to parse "expires_in" whose format should match "[0-9]+(ns|us|ms|s|m|h)" but did not: soon'),
        ("-1h", 'Value from "expires_in" must result to a future time: -1h'),
    ],
)
def test_a_bad_expires_in_is_400_with_kratos_s_reason(warden: ThreadedWarden, expires_in: str, reason: str) -> None:
    identity_id = create_identity(warden.admin_url, f"operator-expiry{expires_in}@example.com")
    status, answer = _admin(warden, "code", {"identity_id": identity_id, "expires_in": expires_in})
    assert status == 400 and answer["error"]["reason"] == reason, answer


def test_an_identity_id_that_is_no_uuid_is_400_not_an_unknown_identity(warden: ThreadedWarden) -> None:
    """Kratos decodes `identity_id` as a UUID: a malformed one fails the body (400); a well-formed
    id of no identity is 404."""
    status, answer = _admin(warden, "code", {"identity_id": "not-a-uuid"})
    assert status == 400, answer
    status, answer = _admin(warden, "code", {"identity_id": "00000000-0000-4000-8000-000000000000"})
    assert status == 404, answer
