"""The Jsonnet `ctx` a `web_hook` gets, field by field, against Kratos's `templateContext`
(selfservice/hook/web_hook.go): a template that returns `ctx` whole, on registration, recovery and
verification, with a real receiver and a real SMTP server for the codes.

- `request_headers` is Go's `http.Header`: canonical names, each with a list of values, only the
  allow-listed ones (a Kratos template reads `ctx.request_headers['User-Agent'][0]`);
- `request_url` is the URL the client asked for, on the public base URL (Kratos rebuilds it from
  the forwarded host and scheme), not the address the server listens on;
- `flow.transient_payload` is the submitted body's, on every flow, recovery and verification too;
- no secret reaches the third party: not the password, not a session token."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.factories import ThreadedWarden, running_warden
from tests.mail_helpers import code_in, mail_config, wait_for_mail
from tests.selfservice_helpers import CONFIGURED_BASE, PASSWORD, create_identity, selfservice_settings
from tests.smtp import SmtpServer
from tests.webhook_receiver import Received, WebhookReceiver

WHOLE_CTX = "base64://" + base64.b64encode(b"function(ctx) ctx").decode()


def dump_to(url: str) -> dict[str, Any]:
    """A plain hook that sends the whole `ctx`."""
    return {"hook": "web_hook", "config": {"url": url, "method": "POST", "body": WHOLE_CTX}}


BASIC_PASSWORD = "basic-auth-secret-5521"
API_KEY = "api-key-secret-9034"
SECRETS = (PASSWORD, BASIC_PASSWORD, base64.b64encode(f"warden:{BASIC_PASSWORD}".encode()).decode(), API_KEY)


def failing(url: str, auth: dict[str, Any]) -> dict[str, Any]:
    """A plain hook with credentials whose receiver fails: logged, and handed to the courier."""
    return {"hook": "web_hook", "config": {"url": url, "method": "POST", "body": WHOLE_CTX, "auth": auth}}


def answer(request: Received) -> tuple[int, Any, dict[str, str]]:
    return (500, {"error": "down"}, {}) if request.path.startswith("/failing") else (200, None, {})


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    found = WebhookReceiver(answer).start()
    yield found
    found.close()


@pytest.fixture(scope="module")
def warden(
    tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer, receiver: WebhookReceiver
) -> Iterator[ThreadedWarden]:
    directory: Path = tmp_path_factory.mktemp("web-hook-context")
    config = mail_config(smtp, use="code")
    flows = config["flows"]
    flows["registration"]["after"]["password"]["hooks"] += [
        dump_to(receiver.url("/registration")),
        failing(
            receiver.url("/failing-basic"),
            {"type": "basic_auth", "config": {"user": "warden", "password": BASIC_PASSWORD}},
        ),
        failing(
            receiver.url("/failing-key"),
            {"type": "api_key", "config": {"name": "X-Key", "value": API_KEY, "in": "cookie"}},
        ),
    ]
    flows["recovery"]["after"] = {"hooks": [dump_to(receiver.url("/recovery"))]}
    flows["verification"]["after"] = {"hooks": [dump_to(receiver.url("/verification"))]}
    settings = selfservice_settings(directory, f"sqlite://{directory}/warden.sqlite", **config)
    with running_warden(settings) as running:
        yield running


def ctx_sent(receiver: WebhookReceiver, path: str, flow_id: str) -> dict[str, Any]:
    [sent] = calls_for(receiver, path, flow_id)
    return _secret_free(sent)


def calls_for(receiver: WebhookReceiver, path: str, flow_id: str, count: int = 1) -> list[Received]:
    """The calls made for this flow, once `count` came (other tests' calls may come in between;
    `wait_for` bounds the wait)."""
    seen = count
    while len(found := [r for r in receiver.wait_for(seen, path) if r.json()["flow"]["id"] == flow_id]) < count:
        seen += 1
    return found


def _secret_free(sent: Received) -> dict[str, Any]:
    assert PASSWORD not in sent.body.decode(), "the password never reaches a web hook"
    assert "ory_st_" not in sent.body.decode() and "session_token" not in sent.body.decode()
    document: dict[str, Any] = sent.json()
    return document


def post(warden: ThreadedWarden, path: str, body: dict[str, Any], **headers: str) -> tuple[int, dict[str, Any]]:
    answer = urllib3.request("POST", f"{warden.public_url}{path}", json=body, headers=headers)
    return answer.status, json.loads(answer.data)


def started(warden: ThreadedWarden, kind: str) -> dict[str, Any]:
    flow: dict[str, Any] = urllib3.request("GET", f"{warden.public_url}/self-service/{kind}/api").json()
    return flow


def test_request_headers_are_an_http_header_map_of_the_allow_listed_names(
    warden: ThreadedWarden, receiver: WebhookReceiver
) -> None:
    flow = started(warden, "registration")
    email = f"headers-{uuid.uuid4().hex[:10]}@example.com"
    body = {"method": "password", "traits": {"email": email}, "password": PASSWORD}
    # Sent in lower case, as HTTP/2 and many clients send them.
    headers = {"user-agent": "ctx-tests/1.0", "accept-language": "de-CH", "x-internal-secret": "not-theirs"}
    status, answer = post(warden, f"/self-service/registration?flow={flow['id']}", body, **headers)
    assert status == 200, answer
    ctx = ctx_sent(receiver, "/registration", flow["id"])
    sent = ctx["request_headers"]
    assert sent["User-Agent"] == ["ctx-tests/1.0"] and sent["Accept-Language"] == ["de-CH"], sent
    assert not {"X-Internal-Secret", "Cookie", "Authorization"} & set(sent), "only allow-listed headers"
    assert ctx["request_method"] == "POST"
    # The identity as Kratos shows it: not the `usable` marks the identity service adds for self-service.
    credentials = ctx["identity"]["credentials"]
    assert credentials["password"]["identifiers"] == [email]
    assert not [kind for kind, c in credentials.items() if "usable" in c], credentials
    assert ctx["request_url"] == f"{CONFIGURED_BASE}/self-service/registration?flow={flow['id']}"
    assert ctx["identity"]["traits"]["email"] == email and ctx["request_cookies"] == {}


def test_a_recovery_hook_gets_the_code_submission_s_transient_payload(
    warden: ThreadedWarden, receiver: WebhookReceiver, smtp: SmtpServer
) -> None:
    email = f"recover-{uuid.uuid4().hex[:10]}@example.com"
    identity_id = create_identity(warden.admin_url, email)
    flow = started(warden, "recovery")
    action = f"/self-service/recovery?flow={flow['id']}"
    assert post(warden, action, {"method": "code", "email": email})[0] == 200
    code = code_in(wait_for_mail(smtp, email)[-1])
    status, answer = post(warden, action, {"method": "code", "code": code, "transient_payload": {"source": "app"}})
    assert status == 200, answer
    ctx = ctx_sent(receiver, "/recovery", flow["id"])
    assert ctx["flow"]["transient_payload"] == {"source": "app"}, ctx["flow"]
    assert ctx["identity"]["id"] == identity_id


def test_a_verification_hook_gets_the_code_submission_s_transient_payload(
    warden: ThreadedWarden, receiver: WebhookReceiver, smtp: SmtpServer
) -> None:
    email = f"verify-{uuid.uuid4().hex[:10]}@example.com"
    identity_id = create_identity(warden.admin_url, email)
    flow = started(warden, "verification")
    action = f"/self-service/verification?flow={flow['id']}"
    assert post(warden, action, {"method": "code", "email": email})[0] == 200
    code = code_in(wait_for_mail(smtp, email)[-1])
    status, answer = post(warden, action, {"method": "code", "code": code, "transient_payload": {"source": "mail"}})
    assert status == 200 and answer["state"] == "passed_challenge", answer
    ctx = ctx_sent(receiver, "/verification", flow["id"])
    assert ctx["flow"]["transient_payload"] == {"source": "mail"}, ctx["flow"]
    assert ctx["identity"]["id"] == identity_id


def test_no_secret_reaches_the_logs_when_hooks_with_credentials_fail(
    warden: ThreadedWarden, receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    flow = started(warden, "registration")
    email = f"logs-{uuid.uuid4().hex[:10]}@example.com"
    body = {"method": "password", "traits": {"email": email}, "password": PASSWORD, "transient_payload": {"pin": "7"}}
    status, answer = post(warden, f"/self-service/registration?flow={flow['id']}", body)
    assert status == 200 and answer["session_token"], answer
    # The flow's call, and the courier's first retry, of each: both failures are logged by then.
    basic = calls_for(receiver, "/failing-basic", flow["id"], 2)[0]
    assert basic.headers["Authorization"] == f"Basic {SECRETS[2]}", "the credentials were sent"
    keyed = calls_for(receiver, "/failing-key", flow["id"], 2)[0]
    assert keyed.headers["Cookie"] == f"X-Key={API_KEY}"
    logged = "\n".join(_everything(record) for record in caplog.records)
    assert "answered 500" in logged, "the failures were logged"
    for secret in (*SECRETS, answer["session_token"]):
        assert secret not in logged, f"a secret in the logs: {secret[:6]}…"


def _everything(record: logging.LogRecord) -> str:
    text = record.getMessage()
    if record.exc_info:
        text += logging.Formatter().formatException(record.exc_info)
    return text + repr(record.__dict__)
