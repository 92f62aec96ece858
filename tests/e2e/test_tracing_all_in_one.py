"""Tracing in the all-in-one process (`warden serve`, SQLite), exporting OTLP/HTTP to a receiver in
the test, where the distributed test (test_tracing.py) does not look:

- a `web_hook` after registration is a CLIENT span under the registration's span, and the hook's
  target receives W3C `traceparent` naming the registration's trace; so is a fire-and-forget one
  (`response.ignore`), sent later by the courier through the outbox and the bus; the hook's body
  and its credentials are in no span;
- a gRPC session check is a SERVER span that continues the caller's `traceparent`, with no token
  in it;
- Kubernetes' probes (`/health/alive`, `/health/ready`), Prometheus' scrapes and gRPC health checks
  make no traces;
- SQLite's statements are CLIENT spans under the request that ran them, with the SQL's placeholders
  and never the values; statements outside a trace (migrations, polls, probes) make none.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from shared.grpc.gen.warden.session.v1 import session_pb2, session_pb2_grpc
from tests.e2e.test_tracing import wait_for
from tests.e2e.warden_process import WardenProcess
from tests.factories import EMAIL_SCHEMA
from tests.otlp_receiver import CLIENT, SERVER, OtlpReceiver, ReceivedSpan
from tests.webhook_receiver import Received, WebhookReceiver

INTERNAL_TOKEN = "e2e-tracing-aio-internal-token"
HOOK_KEY = "hook-api-key-never-in-a-span"
HOOK_MARKER = "hook-body-marker-never-in-a-span"
PASSWORD = "difference-engine-1822-plans"
EMAIL = "charles.babbage@example.com"
# A caller's trace, as a gateway in front of Warden sends it.
CALLER_TRACE, CALLER_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
HOOK_BODY = f"function(ctx) {{ marker: '{HOOK_MARKER}', email: ctx.identity.traits.email }}"


def write_config(directory: Path, receiver: OtlpReceiver, hook: WebhookReceiver) -> Path:
    (directory / "identity.schema.json").write_text(json.dumps(EMAIL_SCHEMA))
    web_hook = {
        "hook": "web_hook",
        "config": {
            "url": hook.url("/registered"),
            "method": "POST",
            "body": "base64://" + base64.b64encode(HOOK_BODY.encode()).decode(),
            "auth": {"type": "api_key", "config": {"name": "X-Hook-Key", "value": HOOK_KEY, "in": "header"}},
        },
    }
    fire_and_forget = {
        "hook": "web_hook",
        "config": {**web_hook["config"], "url": hook.url("/delivered"), "response": {"ignore": True}},
    }
    hooks = [{"hook": "session"}, web_hook, fire_and_forget]
    config: dict[str, Any] = {
        "dsn": f"sqlite:///{directory}/warden.sqlite",
        "identity": {
            "default_schema_id": "default",
            "schemas": [{"id": "default", "url": f"file://{directory}/identity.schema.json"}],
        },
        "selfservice": {
            "default_browser_return_url": "http://127.0.0.1:4455/",
            "flows": {"registration": {"after": {"password": {"hooks": hooks}}}},
            "methods": {"password": {"enabled": True}},
        },
        "secrets": {"cookie": ["e2e-tracing-aio-cookie-0123456789"], "default": ["e2e-tracing-aio-default-0123456789"]},
        "services": {"internal_token": INTERNAL_TOKEN},
        "log": {"level": "warning"},
        "tracing": receiver.tracing_config(),
    }
    path = directory / "kratos.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def hook() -> Iterator[WebhookReceiver]:
    found = WebhookReceiver().start()
    yield found
    found.close()


@pytest.fixture(scope="module")
def warden(
    tmp_path_factory: pytest.TempPathFactory, receiver: OtlpReceiver, hook: WebhookReceiver
) -> Iterator[WardenProcess]:
    directory = tmp_path_factory.mktemp("tracing-aio")
    config = write_config(directory, receiver, hook)
    env = {"OTEL_BSP_SCHEDULE_DELAY": "100"}  # the SDK's own variable: export every 100 ms
    process = WardenProcess(["serve", "-c", str(config)], env=env, cwd=directory)
    try:
        process.wait_ready(timeout=60.0)
        yield process
    finally:
        process.stop()


def call(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read() or b"{}")
        return answer


def server_span(receiver: OtlpReceiver, test: Callable[[ReceivedSpan], bool], what: str) -> ReceivedSpan:
    return wait_for(lambda: next((s for s in receiver.all() if s.kind == SERVER and test(s)), None), what)


def register(public: str, email: str) -> dict[str, Any]:
    flow = call("GET", f"{public}/self-service/registration/api")
    body = {"method": "password", "password": PASSWORD, "traits": {"email": email}}
    return call("POST", f"{public}/self-service/registration?flow={flow['id']}", body)


def path_of(span: ReceivedSpan) -> str:
    return str(span.attributes.get("url.path") or span.attributes.get("http.target") or "")


@pytest.fixture(scope="module")
def registered(warden: WardenProcess, receiver: OtlpReceiver, hook: WebhookReceiver) -> dict[str, Any]:
    answer = register(warden.url("public"), EMAIL)
    root = server_span(receiver, lambda s: s.attributes.get("SelfServiceFlowType") == "registration", "registration")
    return {
        "answer": answer,
        "root": root,
        "hook": hook.wait_for(1, "/registered")[0],
        "delivered": hook.wait_for(1, "/delivered")[0],
    }


def header(call: Received, name: str) -> str | None:
    return next((value for key, value in call.headers.items() if key.lower() == name), None)


def sender_of(receiver: OtlpReceiver, trace_id: str, traceparent: str | None) -> ReceivedSpan:
    """The span whose id a call's `traceparent` names, after checking it names `trace_id`."""
    assert traceparent, "the call carried no traceparent"
    version, found_trace, parent_id, _flags = traceparent.split("-")
    assert (version, found_trace) == ("00", trace_id)
    spans = lambda: next((s for s in receiver.trace(trace_id) if s.span_id == parent_id), None)  # noqa: E731
    return wait_for(spans, "the span that made the call")


def ancestors(receiver: OtlpReceiver, span: ReceivedSpan) -> list[ReceivedSpan]:
    by_id = {s.span_id: s for s in receiver.trace(span.trace_id)}
    found: list[ReceivedSpan] = []
    while (parent := by_id.get(span.parent_id)) is not None:
        found.append(parent)
        span = parent
    return found


def test_a_web_hook_call_is_a_client_span_of_the_flow_and_carries_its_trace(
    registered: dict[str, Any], receiver: OtlpReceiver
) -> None:
    root: ReceivedSpan = registered["root"]
    sent = sender_of(receiver, root.trace_id, header(registered["hook"], "traceparent"))
    assert sent.kind == CLIENT and sent.parent_id == root.span_id
    assert sent.attributes.get("http.request.method", sent.attributes.get("http.method")) == "POST"
    assert registered["hook"].json()["marker"] == HOOK_MARKER  # what the assertions below look for
    for span in receiver.all():
        for value in span.values():
            assert HOOK_MARKER not in value and HOOK_KEY not in value, f"in {span.name}: {value}"
            assert PASSWORD not in value and INTERNAL_TOKEN not in value, f"in {span.name}: {value}"


def test_a_fire_and_forget_web_hook_is_sent_by_the_courier_inside_the_flows_trace(
    registered: dict[str, Any], receiver: OtlpReceiver
) -> None:
    root: ReceivedSpan = registered["root"]
    delivered = registered["delivered"]
    assert header(delivered, "idempotency-key")  # the courier's delivery, not the flow's own call
    sent = sender_of(receiver, root.trace_id, header(delivered, "traceparent"))
    above = ancestors(receiver, sent)
    assert sent.kind == CLIENT and above[0].name == "courier send web hook delivery", [s.name for s in above]
    assert above[-1].span_id == root.span_id  # through the outbox and the bus, back to the flow


def test_a_grpc_session_check_continues_the_callers_trace(
    warden: WardenProcess, registered: dict[str, Any], receiver: OtlpReceiver
) -> None:
    token = registered["answer"]["session_token"]
    metadata = (("authorization", f"Bearer {INTERNAL_TOKEN}"), ("traceparent", f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
    with grpc.insecure_channel(f"127.0.0.1:{warden.grpc_port}") as channel:
        answer = session_pb2_grpc.SessionServiceStub(channel).Check(
            session_pb2.CheckRequest(token=token), metadata=metadata, timeout=10
        )
    assert answer.session.identity_id == registered["answer"]["identity"]["id"]
    checked = server_span(receiver, lambda s: s.trace_id == CALLER_TRACE, "the Check's span")
    assert (checked.parent_id, checked.name) == (CALLER_SPAN, "/warden.session.v1.SessionService/Check")
    assert checked.attributes["rpc.system"] == "grpc" and checked.attributes["rpc.grpc.status_code"] == 0
    for value in checked.values():
        assert token.removeprefix("ory_st_") not in value and INTERNAL_TOKEN not in value, value


def test_probes_scrapes_and_grpc_health_checks_make_no_traces(warden: WardenProcess, receiver: OtlpReceiver) -> None:
    for port in ("public", "admin"):
        for path in ("/health/alive", "/health/ready"):
            assert urllib.request.urlopen(warden.url(port) + path, timeout=10).status == 200
    assert urllib.request.urlopen(warden.url("admin") + "/metrics", timeout=10).status == 200
    with grpc.insecure_channel(f"127.0.0.1:{warden.grpc_port}") as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    # Spans leave in the order they end: once this request's span is in, the probes' would be too.
    call("GET", warden.url("public") + "/version")
    server_span(receiver, lambda s: path_of(s) == "/version", "the span of GET /version")
    untraced = ("/health/", "/metrics")
    assert not [s.name for s in receiver.all() if s.kind == SERVER and path_of(s).startswith(untraced)]
    assert not [s.name for s in receiver.all() if "grpc.health" in s.name]


def test_sqlite_statements_are_spans_of_the_request_that_ran_them(
    registered: dict[str, Any], receiver: OtlpReceiver
) -> None:
    root: ReceivedSpan = registered["root"]

    def statements() -> list[ReceivedSpan]:
        return [s for s in receiver.trace(root.trace_id) if s.attributes.get("db.system") == "sqlite"]

    found = wait_for(lambda: [s for s in statements() if s.name == "INSERT"], "an INSERT of the registration")
    inserted = next(s for s in found if "INSERT INTO identity_identities" in s.attributes["db.statement"])
    assert inserted.kind == CLIENT and root in ancestors(receiver, inserted)
    assert "?" in inserted.attributes["db.statement"]
    for span in statements():
        assert not any(EMAIL in value or PASSWORD in value for value in span.values()), span.values()
    # Outside a trace (start-up migrations, the relay's and the courier's polls, probes): no span.
    time.sleep(1.0)  # a few rounds of the polls
    assert not [s.name for s in receiver.all() if s.attributes.get("db.system") == "sqlite" and not s.parent_id]
