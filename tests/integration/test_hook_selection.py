"""Which `after` hooks a flow runs, as Kratos chooses them (services/selfservice/config.py,
`SelfserviceConfig.hooks`): a method's own `after.<method>.hooks`, when it names a hook, replaces
the flow-wide `after.hooks`; an absent or empty method list leaves the flow-wide one. The two are
never run together. Registration and settings take the web hooks that interrupt (those run before
the identity is saved) from the method's own list only. Through the native flows, with a real
receiver on loopback: every hook here but `require_verified_address` calls it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from tests.conftest import unique
from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import PASSWORD, selfservice_settings
from tests.webhook_receiver import Received, WebhookReceiver

BODY = "function(ctx) { email: ctx.identity.traits.email }"
REFUSAL = {
    "messages": [
        {
            "instance_ptr": "#/traits/email",
            "messages": [{"id": 4000901, "text": "This address is on our block list.", "type": "error", "context": {}}],
        }
    ]
}


def answer(request: Received) -> tuple[int, Any, dict[str, str]]:
    if request.path == "/registration-gate" and request.json()["email"].startswith("gated-"):
        return 403, REFUSAL, {}
    return 204, None, {}


def hook(url: str, **config: Any) -> dict[str, Any]:
    body = "base64://" + base64.b64encode(BODY.encode()).decode()
    return {"hook": "web_hook", "config": {"url": url, "method": "POST", "body": body, **config}}


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    found = WebhookReceiver(answer).start()
    yield found
    found.close()


@pytest.fixture(scope="module")
def warden(receiver: WebhookReceiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("hook-selection")
    flows = {
        # No list of password's own: the flow-wide one runs, but for its interrupting hook.
        "registration": {
            "after": {
                "hooks": [
                    hook(receiver.url("/registration-any")),
                    hook(receiver.url("/registration-gate"), can_interrupt=True),
                ]
            }
        },
        # Password's own list replaces the flow-wide one, address check included.
        "login": {
            "after": {
                "hooks": [{"hook": "require_verified_address"}, hook(receiver.url("/login-any"))],
                "password": {"hooks": [hook(receiver.url("/login-password"))]},
            }
        },
        # Profile's own list replaces the flow-wide one; password's empty list does not.
        "settings": {
            "after": {
                "hooks": [hook(receiver.url("/settings-any"))],
                "profile": {"hooks": [hook(receiver.url("/settings-profile"))]},
                "password": {"hooks": []},
            }
        },
    }
    settings = selfservice_settings(directory, f"sqlite://{directory}/warden.sqlite", session_hook=False, flows=flows)
    with running_warden(settings) as running:
        yield running


def register(warden: ThreadedWarden, email: str) -> tuple[int, dict[str, Any]]:
    flow = urllib3.request("GET", f"{warden.public_url}/self-service/registration/api").json()
    response = urllib3.request(
        "POST",
        f"{warden.public_url}/self-service/registration?flow={flow['id']}",
        json={"method": "password", "traits": {"email": email}, "password": PASSWORD},
    )
    return response.status, json.loads(response.data)


def login(warden: ThreadedWarden, email: str) -> tuple[int, dict[str, Any]]:
    flow = urllib3.request("GET", f"{warden.public_url}/self-service/login/api").json()
    response = urllib3.request(
        "POST",
        f"{warden.public_url}/self-service/login?flow={flow['id']}",
        json={"method": "password", "identifier": email, "password": PASSWORD},
    )
    return response.status, json.loads(response.data)


def change_settings(warden: ThreadedWarden, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = {"X-Session-Token": token}
    flow = urllib3.request("GET", f"{warden.public_url}/self-service/settings/api", headers=headers).json()
    response = urllib3.request(
        "POST", f"{warden.public_url}/self-service/settings?flow={flow['id']}", json=body, headers=headers
    )
    return response.status, json.loads(response.data)


def calls(receiver: WebhookReceiver, email: str, prefix: str = "/") -> list[str]:
    """The paths (under `prefix`) the hooks called for `email`, in order."""
    return [r.path for r in receiver.requests() if r.json()["email"] == email and r.path.startswith(prefix)]


def signed_in(warden: ThreadedWarden, prefix: str) -> tuple[str, str]:
    """A session token for an identity imported with its address verified (so that the login hooks
    let it in whichever list runs) and its email."""
    email = f"{unique(prefix)}@example.com"
    verified = {"value": email, "via": "email", "verified": True, "status": "completed"}
    imported = {
        "schema_id": "default",
        "traits": {"email": email},
        "verifiable_addresses": [verified],
        "credentials": {"password": {"config": {"password": PASSWORD}}},
    }
    assert urllib3.request("POST", f"{warden.admin_url}/admin/identities", json=imported).status == 201
    status, body = login(warden, email)
    assert status == 200, body
    return email, body["session_token"]


def test_without_a_list_of_its_own_a_method_runs_the_flow_wide_after_hooks(
    warden: ThreadedWarden, receiver: WebhookReceiver
) -> None:
    email = f"{unique('any')}@example.com"
    status, body = register(warden, email)
    assert status == 200, body
    assert calls(receiver, email) == ["/registration-any"]


def test_a_flow_wide_interrupting_web_hook_never_runs_before_registration_saves_the_identity(
    warden: ThreadedWarden, receiver: WebhookReceiver
) -> None:
    """As in Kratos, which reads the hooks that run before the save from the method's list alone."""
    email = f"gated-{unique('u')}@example.com"
    status, body = register(warden, email)
    assert status == 200, body
    assert "/registration-gate" not in calls(receiver, email)


def test_a_method_s_own_list_replaces_the_flow_wide_after_hooks(
    warden: ThreadedWarden, receiver: WebhookReceiver
) -> None:
    email = f"{unique('login')}@example.com"
    assert register(warden, email)[0] == 200
    status, body = login(warden, email)
    assert status == 200, body  # the flow-wide require_verified_address does not run: the address is unverified
    assert body["session"]["identity"]["verifiable_addresses"][0]["verified"] is False
    assert calls(receiver, email) == ["/registration-any", "/login-password"]


def test_settings_run_the_method_s_own_list_or_else_the_flow_wide_one(
    warden: ThreadedWarden, receiver: WebhookReceiver
) -> None:
    email, token = signed_in(warden, "settings")
    status, body = change_settings(warden, token, {"method": "profile", "traits": {"email": email}})
    assert status == 200, body
    assert calls(receiver, email, "/settings") == ["/settings-profile"]
    status, body = change_settings(warden, token, {"method": "password", "password": "Another-" + PASSWORD})
    assert status == 200, body
    assert calls(receiver, email, "/settings") == ["/settings-profile", "/settings-any"]
