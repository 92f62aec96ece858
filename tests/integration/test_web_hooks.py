"""`web_hook` with real HTTP receivers on loopback, through Warden's native registration flow:
a Kratos-style Jsonnet body, an interrupting hook that refuses a registration with a field message,
a parse hook that sets `metadata_public`, and a broken interrupting hook failing the flow cleanly."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from shared.bus.envelope import Envelope
from shared.bus.ports import Subscription
from tests.conftest import eventually, unique
from tests.factories import ThreadedWarden, running_warden
from tests.selfservice_helpers import PASSWORD, selfservice_settings
from tests.webhook_receiver import Received, WebhookReceiver

# As Kratos's documentation writes them: the identity after it was saved, the transient payload
# the client sent, and the request the flow came from.
KRATOS_STYLE_BODY = """function(ctx) {
  userId: ctx.identity.id,
  traits: { email: ctx.identity.traits.email },
  flowId: ctx.flow.id,
  [if "transient_payload" in ctx.flow && ctx.flow.transient_payload != null then "campaign"]:
    ctx.flow.transient_payload.campaign,
  method: ctx.request_method,
  url: ctx.request_url,
  headers: ctx.request_headers,
  cookies: ctx.request_cookies,
  signed_in: "session" in ctx,
}
"""
CHECK_BODY = "function(ctx) { email: ctx.identity.traits.email, has_id: 'id' in ctx.identity }"
FROZEN = {"id": 4000902, "text": "This account is frozen.", "type": "error"}
HOOK_TIMEOUT_SECONDS = 1
SETTINGS_BODY = "function(ctx) { traits: ctx.identity.traits }"
SETTINGS_HOOK = {
    "hook": "web_hook",
    "config": {
        "url": "replaced per test run",
        "method": "POST",
        "body": "base64://" + base64.b64encode(SETTINGS_BODY.encode()).decode(),
        "response": {"parse": True},
    },
}
REFUSAL = {
    "messages": [
        {
            "instance_ptr": "#/traits/email",
            "messages": [{"id": 4000901, "text": "This address is on our block list.", "type": "error", "context": {}}],
        }
    ]
}


LOGIN_BODY = "function(ctx) { email: ctx.identity.traits.email, agent: ctx.request_headers['User-Agent'][0] }"
GATE_BODY = "function(ctx) { agent: ctx.request_headers['User-Agent'][0], flow: ctx.flow.id }"


def answer(request: Received) -> tuple[int, Any, dict[str, str]]:
    if request.path == "/gate":
        return (403, REFUSAL, {}) if request.json()["agent"] == "blocked-agent" else (204, None, {})
    if request.path == "/login":
        return (
            (403, {"messages": [{"messages": [FROZEN]}]}, {})
            if request.json()["email"].startswith("frozen")
            else (204, None, {})
        )
    if request.path == "/settings":
        traits = request.json()["traits"]
        if traits["email"].startswith("blocked"):
            return 400, REFUSAL, {}
        checked = {"traits": {**traits, "name": {"first": "Checked"}}}
        return 200, {"identity": {**checked, "metadata_public": {"plan": "pro"}, "metadata_admin": {"by": "hook"}}}, {}
    if request.path == "/settings-password":
        return 200, {"identity": {"metadata_admin": {"password_changed_by": "hook"}}}, {}
    if request.path != "/check":
        return 200, None, {}
    email = request.json()["email"]
    if email.startswith("blocked"):
        return 409, REFUSAL, {}
    if email.startswith(("vip", "pieces")):
        return 200, {"identity": {"metadata_public": {"plan": "vip"}}}, {}
    if email.startswith("accepted"):  # Kratos reads an identity from a 200 only
        return 201, {"identity": {"metadata_public": {"plan": "not-read"}}}, {}
    if email.startswith("trusted"):  # a hook that vouches for the address (say, a company domain)
        proven = {"value": email, "via": "email", "verified": True, "status": "completed"}
        return 200, {"identity": {"verifiable_addresses": [proven]}}, {}
    if email.startswith("nan"):  # json.dumps writes NaN, which JSON does not have
        return 200, {"identity": {"metadata_public": {"score": float("nan")}}}, {}
    if email.startswith("broken"):
        return 500, "<html>oops</html>", {}
    return 204, None, {}


def in_pieces(request: Received) -> bool:
    return request.path == "/check" and request.json()["email"].startswith("pieces")


def delay(request: Received) -> float:
    slow = request.path == "/check" and request.json()["email"].startswith("slow")
    return HOOK_TIMEOUT_SECONDS + 2 if slow else 0.0


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    found = WebhookReceiver(answer, delay, in_pieces).start()
    yield found
    found.close()


@pytest.fixture(scope="module")
def unreachable() -> Iterator[WebhookReceiver]:
    """Never started: its port refuses every call."""
    found = WebhookReceiver()
    yield found
    found.close()


@pytest.fixture(scope="module")
def warden(
    receiver: WebhookReceiver, unreachable: WebhookReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadedWarden]:
    directory = tmp_path_factory.mktemp("web-hooks")
    (directory / "created.jsonnet").write_text(KRATOS_STYLE_BODY)
    hooks = [
        {
            "hook": "web_hook",
            "config": {
                "url": receiver.url("/check"),
                "method": "POST",
                "body": "base64://" + base64.b64encode(CHECK_BODY.encode()).decode(),
                "response": {"parse": True},
            },
        },
        {"hook": "session"},
        {
            "hook": "web_hook",
            "config": {
                "url": receiver.url("/created"),
                "method": "POST",
                "body": "file://created.jsonnet",
                "auth": {"type": "api_key", "config": {"name": "X-Api-Key", "value": "hook-key", "in": "header"}},
            },
        },
        {
            "hook": "web_hook",
            "config": {
                "url": receiver.url("/never"),
                "method": "POST",
                "body": unreachable.url("/body.jsonnet"),
                "response": {"ignore": True},
            },
        },
    ]
    flows = {
        "registration": {"ui_url": "http://127.0.0.1:4455/registration", "after": {"password": {"hooks": hooks}}},
        "settings": {
            "ui_url": "http://127.0.0.1:4455/settings",
            "after": {
                "profile": {
                    "hooks": [
                        {**SETTINGS_HOOK, "config": {**SETTINGS_HOOK["config"], "url": receiver.url("/settings")}}
                    ]
                },
                "password": {
                    "hooks": [
                        {
                            **SETTINGS_HOOK,
                            "config": {**SETTINGS_HOOK["config"], "url": receiver.url("/settings-password")},
                        }
                    ]
                },
            },
        },
        "login": {
            "ui_url": "http://127.0.0.1:4455/login",
            "before": {"hooks": [interrupting(receiver.url("/gate"), GATE_BODY)]},
            "after": {"password": {"hooks": [interrupting(receiver.url("/login"), LOGIN_BODY)]}},
        },
        "verification": {"enabled": True},
    }
    settings = selfservice_settings(
        directory,
        f"sqlite://{directory}/warden.sqlite",
        session_hook=False,
        flows=flows,
        webhooks={"timeout": f"{HOOK_TIMEOUT_SECONDS}s"},
    )
    with running_warden(settings) as running:
        yield running


def interrupting(url: str, body: str) -> dict[str, Any]:
    encoded = "base64://" + base64.b64encode(body.encode()).decode()
    return {"hook": "web_hook", "config": {"url": url, "method": "POST", "body": encoded, "can_interrupt": True}}


def login(warden: ThreadedWarden, email: str, agent: str = "hook-tests/1.0") -> tuple[int, dict[str, Any]]:
    started = urllib3.request("GET", f"{warden.public_url}/self-service/login/api", headers={"User-Agent": agent})
    if started.status != 200:
        return started.status, started.json()
    response = urllib3.request(
        "POST",
        f"{warden.public_url}/self-service/login?flow={started.json()['id']}",
        json={"method": "password", "identifier": email, "password": PASSWORD},
        headers={"User-Agent": agent},
    )
    return response.status, json.loads(response.data)


def register(warden: ThreadedWarden, email: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    flow = urllib3.request("GET", f"{warden.public_url}/self-service/registration/api").json()
    response = urllib3.request(
        "POST",
        f"{warden.public_url}/self-service/registration?flow={flow['id']}",
        json={"method": "password", "traits": {"email": email}, "password": PASSWORD, **extra},
        headers={"User-Agent": "hook-tests/1.0"},
    )
    return response.status, json.loads(response.data)


def submit_settings(warden: ThreadedWarden, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A new settings flow by API, submitted with `body`: its status and the flow."""
    headers = {"X-Session-Token": token}
    flow = urllib3.request("GET", f"{warden.public_url}/self-service/settings/api", headers=headers).json()
    answer = urllib3.request(
        "POST", f"{warden.public_url}/self-service/settings?flow={flow['id']}", json=body, headers=headers
    )
    return answer.status, json.loads(answer.data)


def identity(warden: ThreadedWarden, identity_id: str) -> dict[str, Any]:
    return urllib3.request("GET", f"{warden.admin_url}/admin/identities/{identity_id}").json()


def identities_with(warden: ThreadedWarden, email: str) -> list[dict[str, Any]]:
    return urllib3.request(
        "GET", f"{warden.admin_url}/admin/identities", fields={"credentials_identifier": email}
    ).json()


def test_the_body_is_rendered_from_a_kratos_style_jsonnet_template(
    warden: ThreadedWarden, receiver: WebhookReceiver
) -> None:
    email = f"{unique('plain')}@example.com"
    status, body = register(warden, email, transient_payload={"campaign": "spring"})
    assert status == 200, body
    [sent] = [r for r in receiver.requests("/created") if r.json()["traits"]["email"] == email]
    assert sent.method == "POST" and sent.headers["X-Api-Key"] == "hook-key"
    assert sent.headers["Content-Type"] == "application/json"
    document = sent.json()
    assert document["userId"] == body["identity"]["id"] and document["campaign"] == "spring"
    assert document["method"] == "POST" and "/self-service/registration?flow=" in document["url"]
    assert document["headers"]["User-Agent"] == ["hook-tests/1.0"], "allow-listed headers are forwarded"
    assert document["cookies"] == {}, "the user's cookies stay home"
    flow = urllib3.request(
        "GET", f"{warden.public_url}/self-service/registration/flows", fields={"id": document["flowId"]}
    ).json()
    assert "transient_payload" not in json.dumps(flow), "the transient payload is never stored"


def test_a_hook_listed_after_session_runs_before_it_and_sees_no_session(
    warden: ThreadedWarden, receiver: WebhookReceiver
) -> None:
    """Kratos's `getHooks` always runs `session` last: `/created`, configured after it, is called
    before the sign-in, so its `ctx` has no session, though the answer does."""
    email = f"{unique('order')}@example.com"
    status, body = register(warden, email)
    assert status == 200 and body["session"]["identity"]["traits"]["email"] == email, body
    [sent] = [r for r in receiver.requests("/created") if r.json()["traits"]["email"] == email]
    assert sent.json()["signed_in"] is False


def test_a_remote_template_that_cannot_be_fetched_is_a_logged_delivery_failure(
    warden: ThreadedWarden, receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    status, body = register(warden, f"{unique('remote')}@example.com")
    assert status == 200 and body["identity"]["id"], "a fire-and-forget hook never fails the flow"
    assert any("body template could not be fetched" in r.getMessage() for r in caplog.records)
    assert receiver.requests("/never") == []


def test_an_interrupting_hook_refuses_a_registration_with_a_field_message(
    warden: ThreadedWarden, receiver: WebhookReceiver
) -> None:
    email = f"blocked-{unique('u')}@example.com"
    status, flow = register(warden, email)
    assert status == 400, flow
    [email_node] = [n for n in flow["ui"]["nodes"] if n["attributes"].get("name") == "traits.email"]
    assert email_node["messages"] == [{"id": 4000901, "text": "This address is on our block list.", "type": "error"}]
    assert identities_with(warden, email) == [], "a refused identity is never saved"
    [check] = [r for r in receiver.requests("/check") if r.json()["email"] == email]
    assert check.json()["has_id"] is False, "the hook ran before the identity existed"
    assert not [r for r in receiver.requests("/created") if r.json()["traits"]["email"] == email]


def test_a_parse_hook_sets_metadata_public_before_the_identity_is_saved(warden: ThreadedWarden) -> None:
    status, body = register(warden, f"vip-{unique('u')}@example.com")
    assert status == 200, body
    assert identity(warden, body["identity"]["id"])["metadata_public"] == {"plan": "vip"}
    assert body["session"]["identity"]["metadata_public"] == {"plan": "vip"}


def test_a_parse_hook_s_answer_sent_in_pieces_is_read_whole(warden: ThreadedWarden) -> None:
    """An answer that arrives in several reads (a slow hook, a proxy) is read to its end, not cut at
    the first piece (which would be a 502 for a valid answer)."""
    status, body = register(warden, f"pieces-{unique('u')}@example.com")
    assert status == 200, body
    assert identity(warden, body["identity"]["id"])["metadata_public"] == {"plan": "vip"}


def test_a_parse_hook_s_answer_changes_the_identity_only_with_a_200(warden: ThreadedWarden) -> None:
    """Kratos's `parseWebhookResponse` reads the identity from a 200; any other 2xx is a plain yes."""
    status, body = register(warden, f"accepted-{unique('u')}@example.com")
    assert status == 200, body
    assert identity(warden, body["identity"]["id"])["metadata_public"] is None


def test_a_parse_hook_may_give_a_registration_s_address_as_verified(warden: ThreadedWarden) -> None:
    """Kratos's `parseWebhookResponse`: the identity's addresses too, taken as an import takes them."""
    email = f"trusted-{unique('u')}@example.com"
    status, body = register(warden, email)
    assert status == 200, body
    [address] = identity(warden, body["identity"]["id"])["verifiable_addresses"]
    assert (address["value"], address["verified"], address["status"]) == (email, True, "completed"), address
    [address] = body["session"]["identity"]["verifiable_addresses"]
    assert address["verified"] is True, address
    plain = f"plain-{unique('u')}@example.com"
    status, body = register(warden, plain)
    assert status == 200, body
    assert [a["verified"] for a in identity(warden, body["identity"]["id"])["verifiable_addresses"]] == [False]
    # The plain address is sent its verification code; the vouched-for one, registered first, none.
    deadline = time.monotonic() + 10
    while _mails_to(warden, plain) != ["verification_code_valid"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _mails_to(warden, plain) == ["verification_code_valid"]
    assert _mails_to(warden, email) == []


def _mails_to(warden: ThreadedWarden, recipient: str) -> list[str]:
    response = urllib3.request("GET", f"{warden.admin_url}/admin/courier/messages", fields={"recipient": recipient})
    return [message["template_type"] for message in response.json()]


def test_a_parse_hook_answering_nan_fails_the_flow_and_stores_nothing(warden: ThreadedWarden) -> None:
    email = f"nan-{unique('u')}@example.com"
    status, body = register(warden, email)
    assert status == 502 and body["error"]["code"] == 502, body
    assert identities_with(warden, email) == []


def test_an_interrupting_hook_that_answers_garbage_fails_the_flow_with_a_kratos_error(warden: ThreadedWarden) -> None:
    email = f"broken-{unique('u')}@example.com"
    status, body = register(warden, email)
    assert status == 502, body
    assert (
        body["error"]["code"] == 502
        and body["error"]["reason"] == "A third-party upstream service responded improperly."
    )
    assert identities_with(warden, email) == []


def test_an_interrupting_hook_that_does_not_answer_in_time_fails_the_flow_with_a_504(warden: ThreadedWarden) -> None:
    email = f"slow-{unique('u')}@example.com"
    status, body = register(warden, email)
    assert status == 504 and body["error"]["code"] == 504, body
    assert identities_with(warden, email) == []


def test_a_broken_local_template_fails_start_up(tmp_path: Path) -> None:
    from shared.errors import ConfigError

    hooks = [
        {
            "hook": "web_hook",
            "config": {
                "url": "https://example.com/",
                "method": "POST",
                "body": "base64://" + base64.b64encode(b"function(ctx) {").decode(),
            },
        }
    ]
    flows = {"registration": {"after": {"hooks": hooks}}}
    settings = selfservice_settings(tmp_path, f"sqlite://{tmp_path}/w.sqlite", flows=flows)
    with pytest.raises(ConfigError, match=r"selfservice\.flows\.registration\.after\.hooks\[0\]\.config\.body"):
        with running_warden(settings):
            pass


def test_a_before_hook_refuses_to_start_a_flow(warden: ThreadedWarden) -> None:
    status, body = login(warden, "nobody@example.com", agent="blocked-agent")
    assert status == 400 and body["error"]["details"]["messages"][0]["id"] == 4000901
    status, _ = login(warden, "nobody@example.com")
    assert status == 400, "an allowed agent gets its flow (and then the usual wrong-credentials answer)"


def test_an_interrupting_login_hook_refuses_the_session(warden: ThreadedWarden) -> None:
    email = f"frozen-{unique('u')}@example.com"
    assert register(warden, email)[0] == 200
    status, flow = login(warden, email)
    assert status == 400 and flow["ui"]["messages"] == [FROZEN]
    other = f"thawed-{unique('u')}@example.com"
    assert register(warden, other)[0] == 200
    status, body = login(warden, other)
    assert status == 200 and body["session"]["identity"]["traits"]["email"] == other


def test_a_settings_parse_hook_sees_the_submitted_traits_and_may_refuse_or_change_them_and_the_metadata(
    warden: ThreadedWarden,
) -> None:
    email = f"{unique('settings')}@example.com"
    register_flow = urllib3.request("GET", f"{warden.public_url}/self-service/registration/api").json()
    # This module's registration hooks do not sign in: log in for a session token.
    assert (
        urllib3.request(
            "POST",
            f"{warden.public_url}/self-service/registration?flow={register_flow['id']}",
            json={"method": "password", "traits": {"email": email}, "password": PASSWORD},
        ).status
        == 200
    )
    started = urllib3.request("GET", f"{warden.public_url}/self-service/login/api").json()
    token = urllib3.request(
        "POST",
        f"{warden.public_url}/self-service/login?flow={started['id']}",
        json={"method": "password", "identifier": email, "password": PASSWORD},
    ).json()["session_token"]

    def change(traits: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return submit_settings(warden, token, {"method": "profile", "traits": traits})

    status, flow = change({"email": f"blocked-{email}"})
    assert status == 400, flow
    [email_node] = [n for n in flow["ui"]["nodes"] if n["attributes"].get("name") == "traits.email"]
    assert [m["id"] for m in email_node["messages"]] == [4000901]
    # The hook agrees, but the address is another identity's: nothing of the change is saved.
    taken = f"{unique('taken')}@example.com"
    assert register(warden, taken)[0] == 200
    status, flow = change({"email": taken})
    assert status == 400 and [m["id"] for m in flow["ui"]["messages"]] == [4000007], flow
    assert identity(warden, flow["identity"]["id"])["metadata_public"] is None
    status, flow = change({"email": email, "name": {"first": "typed"}})
    assert status == 200, flow
    assert flow["identity"]["traits"]["name"] == {"first": "Checked"}, "the hook's traits were saved"
    # Its metadata too; the flow, which the user sees, shows the public part only.
    assert flow["identity"]["metadata_public"] == {"plan": "pro"} and "metadata_admin" not in flow["identity"]
    saved = identity(warden, flow["identity"]["id"])
    assert (saved["metadata_public"], saved["metadata_admin"]) == ({"plan": "pro"}, {"by": "hook"})


def test_a_settings_hook_s_metadata_is_saved_in_the_change_s_own_write(warden: ThreadedWarden) -> None:
    """As in Kratos, one update: the metadata is saved with the password or not at all, and the event
    stream sees one `identity.updated` naming both."""
    email = f"{unique('metadata')}@example.com"
    assert register(warden, email)[0] == 200
    token = login(warden, email)[1]["session_token"]
    updates: list[Envelope] = []

    async def collect(envelope: Envelope) -> None:
        updates.append(envelope)

    warden.run(warden.process.bus.subscribe(Subscription(unique("updates"), ("identity.updated",), collect)))
    status, flow = submit_settings(warden, token, {"method": "password", "password": "a brand new passphrase 42"})
    assert status == 200, flow
    identity_id = flow["identity"]["id"]
    assert identity(warden, identity_id)["metadata_admin"] == {"password_changed_by": "hook"}
    # A later change's event comes after every earlier one: once it is here, nothing else is coming.
    patch = [{"op": "replace", "path": "/metadata_public", "value": {"seen": True}}]
    assert urllib3.request("PATCH", f"{warden.admin_url}/admin/identities/{identity_id}", json=patch).status == 200
    warden.run(eventually(lambda: any(e.data["changed"] == ["metadata_public"] for e in updates)))
    changes = [e.data["changed"] for e in updates if e.data["identity_id"] == identity_id]
    assert changes == [["metadata_admin", "credentials"], ["metadata_public"]]
